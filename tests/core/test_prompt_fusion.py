import pytest
from style_aligned.core.content import prompt_fusion as pf


def test_all_slots_filled():
    text, notes = pf.fuse("{prompt} of {caption}, {weather}, {music}; {transcript}",
                          {"prompt": "a watercolor", "caption": "a cat", "weather": "light rain, 12 °C",
                           "music": "calm jazz", "transcript": "hello"})
    assert text == "a watercolor of a cat, light rain, 12 °C, calm jazz; hello"
    assert notes == []


def test_missing_and_empty_slots_leave_no_dangling_separators():
    text, notes = pf.fuse(pf.DEFAULT_TEMPLATE, {"prompt": "a house", "music": "  "})
    assert text == "a house"
    assert "{caption} is empty" in notes and "{music} is empty" in notes
    text, _ = pf.fuse("({weather}) {prompt}, {caption}", {"prompt": "tree"})
    assert text == "tree"


def test_all_empty_sources_give_an_empty_prompt_with_a_note():
    text, notes = pf.fuse("", {})
    assert text == ""
    assert notes[-1].startswith("every slot is empty")


def test_unknown_slot_is_named():
    with pytest.raises(ValueError, match=r"\{mood\}"):
        pf.fuse("{prompt} {mood}", {"prompt": "x"})


def test_braces_in_sources_and_attribute_access_are_inert():
    text, _ = pf.fuse("{prompt}", {"prompt": "a {caption} sign"})
    assert text == "a {caption} sign"
    text, _ = pf.fuse("{prompt.__class__}", {"prompt": "x"})
    assert text == "{prompt.__class__}"  # left literal, never evaluated


def test_unicode_survives():
    text, _ = pf.fuse("{prompt}, {caption}", {"prompt": "東京の夜景 🌃", "caption": "café à Paris — ñ"})
    assert text == "東京の夜景 🌃, café à Paris — ñ"


def test_long_transcript_is_cut_to_the_budget_with_a_note():
    transcript = " ".join(f"w{i}" for i in range(500))
    text, notes = pf.fuse("{prompt}, {transcript}, {weather}",
                          {"prompt": "an oil painting", "transcript": transcript, "weather": "sunny"}, max_words=20)
    assert len(text.split()) == 20
    assert text.startswith("an oil painting, w0 w1") and text.endswith(", sunny")
    assert any("{transcript} cut from 500 to" in n and "77 tokens" in n for n in notes)
    unlimited, _ = pf.fuse("{transcript}", {"transcript": transcript}, max_words=0)
    assert len(unlimited.split()) == 500


def test_newlines_in_sources_become_spaces():
    text, _ = pf.fuse("{prompt}", {"prompt": "line one\nline two"})
    assert text == "line one line two"


def test_list_form_one_line_per_image_with_shared_slots():
    lines, notes = pf.fuse_lines("{prompt} of {caption}, {weather}", "a watercolor",
                                 {"caption": "a cat\na dog\n\na bird", "weather": "snow"})
    assert lines == ["a watercolor of a cat, snow", "a watercolor of a dog, snow", "a watercolor of a bird, snow"]
    assert notes == []
    lines, _ = pf.fuse_lines("{prompt}, {caption}", ["ref style", "target one", "target two"], {"caption": "x"})
    assert lines == ["ref style, x", "target one, x", "target two, x"]
    lines, notes = pf.fuse_lines("{prompt}", "", {})
    assert lines == [] and "nothing to fuse" in notes[0]
