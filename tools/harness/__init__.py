"""The development harness: the pack in a real ComfyUI host (in process or headless), tiny models
built from configs, and the inputs a user would give. Used by tests/, bench/ and tools/; none of it
ships to users. `tools/` is on sys.path for all of them (`./run` and tests/pytest.ini put it there).
"""
