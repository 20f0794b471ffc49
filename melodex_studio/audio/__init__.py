"""Playback transport, mixer, take swapping, export and loudness. No Qt, no torch.

Import from the modules (kept light: nothing here loads PortAudio or scipy):
`transport.Transport`, `backends.SoundDeviceBackend` / `NullBackend`, `player.ProjectPlayer`,
`mixer.Mixer`, `arrangement.arrangement_from_project`, `export.export_project`,
`midi_export.write_plan_midi`. See docs/audio.md.
"""
