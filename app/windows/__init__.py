"""The main window, its menus and key shortcuts, and the other windows it opens (help, log)."""
