"""Media layer: probe a source into a MediaInfo, build ffmpeg commands as data, run them.

`info` (dataclasses, parse_ffprobe) and `commands` (argv builders) are pure; `runner` is the
only module that spawns processes; `probe` and `cut` put them together. Workflows may import
`clipper.media.info` only; nothing here is imported by this package itself, so importing a
submodule stays cheap.
"""
