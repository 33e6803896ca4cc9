"""The music library: its SQLite file, the folder scan (a child process), the table and its panel, exports."""
