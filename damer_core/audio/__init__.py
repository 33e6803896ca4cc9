"""Audio in: decoding any file to the model's mono 22,050 Hz at -23 LUFS (``decoding``), the
decoders behind it (soundfile, ffmpeg), loudness, the C libraries' stderr kept quiet, and the
generated audio that checks use."""
