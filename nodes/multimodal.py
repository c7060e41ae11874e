"""Multi-modal content into prompts (Z-SAMB): image captions, speech transcripts, weather, music
mood, and the fusion of all of them into one prompt or one prompt line per batch image."""

import copy
import time

from comfy_api.latest import io

from ..core.common.images import check_batch
from ..core.content import audio as audio_ops
from ..core.content import captions, music, prompt_fusion, speech, weather
from .pretrained import chosen, helper_model, model_choices, model_dirs, model_inputs
from .ui import ADVANCED, outputs, progress_bar, shown, shown_text

CATEGORY = "style_aligned/multimodal"
ON_ERROR = ("stop with message", "empty result with note")


class StyleAlignedImageCaption(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedImageCaption",
            display_name="Style Aligned Image Caption (BLIP)",
            category=CATEGORY,
            description=("Captions each image of a batch with BLIP (one line per image), optionally continuing a "
                         "prefix such as 'a painting of'. Feed the captions to the prompt fusion nodes."),
            inputs=[
                io.Image.Input("images", tooltip="Images to describe; any size, alpha is ignored."),
                *model_inputs("blip", [captions.BLIP_DEFAULT, "Salesforce/blip-image-captioning-large"]),
                io.String.Input("prefix", default="", tooltip="Optional start of every caption (conditional "
                                "captioning), e.g. 'a photograph of'. Empty = free caption."),
                io.Int.Input("max_new_tokens", default=30, min=1, max=128, tooltip="Longest caption in tokens.",
                             **ADVANCED),
            ],
            outputs=outputs((io.String, "captions", "One caption per image, one per line, in batch order.")),
        )

    @classmethod
    def execute(cls, images, model, hub_id, prefix, max_new_tokens):
        check_batch(len(images), "images")  # before a model load or download
        bundle = helper_model("blip", chosen(model, hub_id), captions.load_blip)
        texts = captions.caption_images(bundle, images, prefix, max_new_tokens, progress=progress_bar(len(images)))
        return shown(("\n".join(texts),), texts)


class StyleAlignedSpeechTranscript(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        names = speech.official_names()
        local = [c for c in model_choices("whisper", [], files=True) if c not in names]
        return io.Schema(
            node_id="StyleAlignedSpeechTranscript",
            display_name="Style Aligned Speech Transcript (Whisper)",
            category=CATEGORY,
            description=("Transcribes (or translates to English) spoken AUDIO with Whisper. Any sample rate and "
                         "channel count: the audio is mixed to mono and resampled to 16 kHz here, no ffmpeg needed."),
            inputs=[
                io.Audio.Input("audio", tooltip="Speech to transcribe, e.g. from Load Audio."),
                io.Combo.Input("model", options=names + local, default=speech.WHISPER_DEFAULT,
                               tooltip="Whisper model: an official name (downloaded to models/whisper on first use, "
                                       "progress in the console) or a .pt checkpoint found in models/whisper. Loaded "
                                       "with safe unpickling."),
                io.Combo.Input("language", options=["auto", *speech.languages()], default="auto",
                               tooltip="Spoken language code, or auto to detect it."),
                io.Combo.Input("task", options=list(speech.TASKS), default="transcribe",
                               tooltip="transcribe keeps the language; translate gives English."),
            ],
            outputs=outputs((io.String, "transcript", "The transcript; one line per clip when the AUDIO holds a "
                             "batch. Empty for silent audio.")),
        )

    @classmethod
    def execute(cls, audio, model, language, task):
        clips = audio_ops.waveform_batch(audio)[0].shape[0]  # checks the input before a model load or download
        dirs = model_dirs("whisper")
        whisper_model = helper_model("whisper", model, speech.make_loader(dirs[0]), resolve=speech.resolve_whisper)
        texts, notes = speech.transcribe_audio(whisper_model, audio, language, task, progress=progress_bar(clips))
        text = "\n".join(texts)
        return shown((text,), [text or "(no speech)", *notes])


class StyleAlignedWeatherPhrase(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedWeatherPhrase",
            display_name="Style Aligned Weather Phrase",
            category=CATEGORY,
            description=("Current weather at a place from OpenWeatherMap as a short phrase such as 'light rain, "
                         "12 °C, evening'. The API key is read from an environment variable; only the variable's "
                         "name is in the workflow, so the key never reaches a saved workflow or the host's history."),
            inputs=[
                io.String.Input("location", default="Paris,FR", tooltip="City,CountryCode (e.g. 'Kyoto,JP') or "
                                "'lat,lon' (e.g. '48.85,2.35')."),
                io.Combo.Input("units", options=list(weather.UNITS), default="metric",
                               tooltip="metric = °C, imperial = °F, standard = kelvin."),
                io.String.Input("api_key_env", default=weather.ENV_KEY, tooltip="Name of the environment variable "
                                "that holds your OpenWeatherMap key (only the name is saved).", **ADVANCED),
                io.Combo.Input("on_error", options=list(ON_ERROR), default=ON_ERROR[0], tooltip="Stop the run with a "
                               "message, or continue with an empty weather slot and show the reason."),
                io.String.Input("base_url", optional=True, default=weather.DEFAULT_BASE_URL,
                                tooltip="Current-weather endpoint; change only for a proxy or a test server.",
                                **ADVANCED),
                io.Float.Input("timeout", optional=True, default=10.0, min=0.5, max=120.0, step=0.5,
                               tooltip="Seconds each try may take in all, however slowly the server sends.",
                               **ADVANCED),
                io.Int.Input("retries", optional=True, default=3, min=0, max=10, tooltip="Extra tries on timeouts, "
                             "rate limits (429) and server errors (5xx), with exponential backoff.", **ADVANCED),
            ],
            outputs=outputs((io.String, "weather", "Conditions, temperature and part of day; empty (with a note) on "
                             "error when asked.")),
        )

    @classmethod
    def fingerprint_inputs(cls, **kwargs):
        # weather changes: re-query at most every 10 minutes instead of caching forever
        return int(time.time() // 600)

    @classmethod
    def execute(cls, location, units, api_key_env, on_error, base_url=weather.DEFAULT_BASE_URL, timeout=10.0,
                retries=3):
        try:
            key = weather.resolve_key(api_key_env)
            data = weather.fetch_current(location, key, units, base_url or weather.DEFAULT_BASE_URL, timeout, retries)
            phrase = weather.describe(data, units)
        except (weather.WeatherError, ValueError) as exc:
            if on_error == ON_ERROR[0]:
                raise
            return shown(("",), [f"weather left empty: {exc}"])
        return shown((phrase,), [phrase])


class StyleAlignedMusicMood(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedMusicMood",
            display_name="Style Aligned Music Mood (CLAP)",
            category=CATEGORY,
            description=("Labels music AUDIO with a genre and a mood by zero-shot CLAP over lists you can edit; "
                         "gives a phrase such as 'calm jazz music' and the scores."),
            inputs=[
                io.Audio.Input("audio", tooltip="Music to label; any rate and channels (first clip of a batch)."),
                *model_inputs("clap", [music.CLAP_DEFAULT, "laion/larger_clap_music"]),
                io.String.Input("genres", default=", ".join(music.DEFAULT_GENRES), multiline=True,
                                tooltip="Candidate genres, separated by commas or new lines."),
                io.String.Input("moods", default=", ".join(music.DEFAULT_MOODS), multiline=True,
                                tooltip="Candidate moods, separated by commas or new lines."),
                io.Int.Input("top_k", default=3, min=1, max=20, tooltip="How many labels per list to show.",
                             **ADVANCED),
            ],
            outputs=outputs((io.String, "music", "Top mood and genre as a phrase (first clip of the batch)."),
                            (io.String, "scores", "Top labels with probabilities; each list's probabilities sum to "
                             "1 over its labels.")),
        )

    @classmethod
    def execute(cls, audio, model, hub_id, genres, moods, top_k):
        label_sets = {"moods": music.parse_labels(moods, "moods"), "genres": music.parse_labels(genres, "genres")}
        waveform, rate = audio_ops.waveform_batch(audio)
        clip = audio_ops.to_mono(waveform)[0] if waveform.shape[0] else waveform.new_zeros(0)
        if audio_ops.is_silent(clip):
            return shown(("", ""), ["audio is silent or empty: no music labels"])
        bundle = helper_model("clap", chosen(model, hub_id), music.load_clap)
        bar = progress_bar(1)
        scores = music.classify(bundle, clip, rate, label_sets)
        bar(1, 1)
        phrase, lines = music.phrase(scores), music.score_lines(scores, top_k)
        return shown((phrase, lines), [phrase, lines])


def _fusion_inputs(prompt_tooltip: str) -> list:
    sources = {
        "caption": "Captions from Image Caption (one per line).",
        "transcript": "Transcript from Speech Transcript.",
        "weather": "Phrase from Weather Phrase.",
        "music": "Phrase from Music Mood.",
    }
    return [
        io.String.Input("template", default=prompt_fusion.DEFAULT_TEMPLATE, multiline=True,
                        tooltip="Text with slots {prompt} {caption} {transcript} {weather} {music}; empty slots vanish "
                                "with their comma."),
        io.String.Input("prompt", default="", multiline=True, tooltip=prompt_tooltip),
        io.Int.Input("max_words", default=prompt_fusion.DEFAULT_MAX_WORDS, min=0, max=1000,
                     tooltip="Word budget per prompt (55 words ≈ CLIP's 77 tokens); the longest source is cut first, "
                             "with a note. 0 = no limit.", **ADVANCED),
        *[io.String.Input(name, optional=True, force_input=True, tooltip=tip) for name, tip in sources.items()],
    ]


class StyleAlignedPromptFusion(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedPromptFusion",
            display_name="Style Aligned Prompt Fusion",
            category=CATEGORY,
            description="Fills a template with the multi-modal sources into one prompt.",
            inputs=_fusion_inputs("Your own text for the {prompt} slot."),
            outputs=outputs((io.String, "prompt", "The fused prompt on one line.", "prompt_out")),
        )

    @classmethod
    def execute(cls, template, prompt, max_words, caption="", transcript="", weather="", music=""):
        sources = {"prompt": prompt, "caption": ", ".join(prompt_fusion.as_lines(caption)),
                   "transcript": transcript, "weather": weather, "music": music}
        text, notes = prompt_fusion.fuse(template, sources, max_words)
        return shown((text,), [text, *notes])


class StyleAlignedPromptFusionList(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="StyleAlignedPromptFusionList",
            display_name="Style Aligned Prompt Fusion (batch lines)",
            category=CATEGORY,
            description=("One fused prompt per batch image, one per line, for the batch-prompt node (line 1 is the "
                         "style reference). {prompt} and {caption} take their i-th line; other slots are shared."),
            inputs=_fusion_inputs("One line per image for the {prompt} slot; a single line is used for every "
                                  "image."),
            outputs=outputs((io.String, "prompts", "One prompt per line; the first line is the style reference."),
                            (io.Int, "count", "Number of lines.")),
        )

    @classmethod
    def execute(cls, template, prompt, max_words, caption="", transcript="", weather="", music=""):
        sources = {"caption": caption, "transcript": transcript, "weather": weather, "music": music}
        lines, notes = prompt_fusion.fuse_lines(template, prompt, sources, max_words)
        return shown(("\n".join(lines), len(lines)), [*lines, *notes])


CAPTION_TEMPLATE = "{caption}, {transcript}, {weather}, {music}"


class MultimodalCaption(io.ComfyNode):
    """The four modality nodes and Prompt Fusion in one node: each connected source runs through the very
    node that handles it alone, then the fusion node."""

    DETAILS = ("Each source gives exactly the text of its own node (Image Caption, Speech Transcript, Music "
               "Mood, Weather Phrase) and the fusion that of Prompt Fusion. The weather key is read from an "
               "environment variable; only its name is saved.")
    # source input -> (prefix of its options here, the node that handles it alone, that node's source input, slot)
    SOURCES = {
        "image": ("caption", StyleAlignedImageCaption, "images", "caption"),
        "speech_audio": ("speech", StyleAlignedSpeechTranscript, "audio", "transcript"),
        "music_audio": ("music", StyleAlignedMusicMood, "audio", "music"),
        "location": ("weather", StyleAlignedWeatherPhrase, "location", "weather"),
    }
    LABELS = {"caption": "Image caption", "speech": "Speech transcript", "music": "Music mood", "weather": "Weather"}

    @classmethod
    def _options(cls, optional):
        """The handling nodes' own inputs (their source inputs left out; required ones, or with `optional` the
        optional ones), named `<prefix>_<name>` and with the source in front of the tooltip."""
        options = []
        for prefix, node, source_input, _ in cls.SOURCES.values():
            for original in node.define_schema().inputs:
                if original.id != source_input and bool(original.optional) == optional:
                    option = copy.copy(original)
                    option.id = f"{prefix}_{original.id}"
                    option.tooltip = f"{cls.LABELS[prefix]}: {original.tooltip or ''}"
                    options.append(option)
        return options

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="MultimodalCaption",
            display_name="Style Aligned Multimodal Caption",
            category=CATEGORY,
            description=("One caption from any of an image (BLIP caption), speech audio (Whisper transcript), music "
                         "audio (CLAP mood and genre) and a place (current weather from OpenWeatherMap), fused "
                         "through a template; leave out what you do not have."),
            inputs=[
                io.String.Input("template", default=CAPTION_TEMPLATE, multiline=True,
                                tooltip="Text with slots {caption} {transcript} {weather} {music}; the slot of a "
                                        "source left out vanishes with its comma."),
                io.Int.Input("max_words", default=prompt_fusion.DEFAULT_MAX_WORDS, min=0, max=1000,
                             tooltip="Word budget of the caption (55 words ≈ CLIP's 77 tokens); the longest source "
                                     "is cut first, with a note. 0 = no limit.", **ADVANCED),
                io.String.Input("location", default="", tooltip="Place for the weather phrase: City,CountryCode "
                                "(e.g. 'Kyoto,JP') or 'lat,lon'. Empty = no weather."),
                *cls._options(optional=False),
                io.Image.Input("image", optional=True, tooltip="Image(s) to caption with BLIP; several images' "
                               "captions are joined with commas."),
                io.Audio.Input("speech_audio", optional=True, tooltip="Speech to transcribe with Whisper, e.g. from "
                               "Load Audio."),
                io.Audio.Input("music_audio", optional=True, tooltip="Music whose mood and genre CLAP names (first "
                               "clip of a batch)."),
                *cls._options(optional=True),
            ],
            outputs=outputs((io.String, "caption", "The fused caption on one line (several images' captions joined "
                             "with commas).")),
        )

    @classmethod
    def fingerprint_inputs(cls, location=None, **kwargs):
        # with a place: the weather changes, so run again at most every 10 minutes (as Weather Phrase)
        return ("" if isinstance(location, str) and not location.strip()
                else StyleAlignedWeatherPhrase.fingerprint_inputs())

    @classmethod
    def execute(cls, template, max_words, location="", image=None, speech_audio=None, music_audio=None, **options):
        given = {"image": image, "speech_audio": speech_audio, "music_audio": music_audio,
                 "location": (location or "").strip() or None}
        if all(value is None for value in given.values()):
            raise ValueError("Multimodal Caption has nothing to describe: connect image, speech_audio or "
                             "music_audio, or type a place in location")
        template = template if (template or "").strip() else CAPTION_TEMPLATE
        slots = set(prompt_fusion.template_slots(template))  # a wrong template fails before a model loads
        if "prompt" in slots:
            raise ValueError("Multimodal Caption's template has no {prompt} slot: write your own words into the "
                             "template, or feed the caption to Prompt Fusion")
        for source in ("speech_audio", "music_audio"):  # bad audio named as this node's input, before any model
            if given[source] is not None:
                audio_ops.waveform_batch(given[source], name=source)
        texts, lines = {}, []
        for source, value in given.items():
            if value is None:
                continue
            prefix, node, source_input, slot = cls.SOURCES[source]
            mine = {name[len(prefix) + 1:]: v for name, v in options.items() if name.startswith(prefix + "_")}
            out = node.execute(**{source_input: value}, **mine)
            texts[slot] = out.result[0]
            lines.append(f"{cls.LABELS[prefix]}: " + shown_text(out).replace("\n", "; "))
        fused = StyleAlignedPromptFusion.execute(template, "", max_words, **texts)
        return shown(fused.result, [shown_text(fused), *lines])


NODES = [StyleAlignedImageCaption, StyleAlignedSpeechTranscript, StyleAlignedWeatherPhrase, StyleAlignedMusicMood,
         StyleAlignedPromptFusion, StyleAlignedPromptFusionList, MultimodalCaption]
