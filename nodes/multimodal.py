"""Multi-modal content into prompts (Z-SAMB): image captions, speech transcripts, weather, music
mood, and the fusion of all of them into one prompt or one prompt line per batch image."""

import time

from ..core.common.images import check_batch
from ..core.content import audio as audio_ops
from ..core.content import captions, music, prompt_fusion, speech, weather
from .pretrained import HelperModelNode, chosen, model_choices, model_dirs, model_inputs
from .ui import progress_bar, shown

CATEGORY = "style_aligned/multimodal"
ON_ERROR = ("stop with message", "empty result with note")


class StyleAlignedImageCaption(HelperModelNode):
    DESCRIPTION = ("Captions each image of a batch with BLIP (one line per image), optionally continuing a "
                   "prefix such as 'a painting of'. Feed the captions to the prompt fusion nodes.")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("captions",)
    OUTPUT_TOOLTIPS = ("One caption per image, one per line, in batch order.",)
    FUNCTION = "caption"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "images": ("IMAGE", {"tooltip": "Images to describe; any size, alpha is ignored."}),
            **model_inputs("blip", [captions.BLIP_DEFAULT, "Salesforce/blip-image-captioning-large"]),
            "prefix": ("STRING", {"default": "", "tooltip": "Optional start of every caption (conditional "
                                                            "captioning), e.g. 'a photograph of'. Empty = free "
                                                            "caption."}),
            "max_new_tokens": ("INT", {"default": 30, "min": 1, "max": 128, "tooltip": "Longest caption in tokens."}),
        }}

    def caption(self, images, model, hub_id, prefix, max_new_tokens):
        check_batch(len(images), "images")  # before a model load or download
        bundle = self.helper_model("blip", chosen(model, hub_id), captions.load_blip)
        texts = captions.caption_images(bundle, images, prefix, max_new_tokens, progress=progress_bar(len(images)))
        return shown(("\n".join(texts),), texts)


class StyleAlignedSpeechTranscript(HelperModelNode):
    DESCRIPTION = ("Transcribes (or translates to English) spoken AUDIO with Whisper. Any sample rate and "
                   "channel count: the audio is mixed to mono and resampled to 16 kHz here, no ffmpeg needed.")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("transcript",)
    OUTPUT_TOOLTIPS = ("The transcript; one line per clip when the AUDIO holds a batch. Empty for silent audio.",)
    FUNCTION = "transcribe"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        names = speech.official_names()
        local = [c for c in model_choices("whisper", [], files=True) if c not in names]
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "Speech to transcribe, e.g. from Load Audio."}),
            "model": (names + local, {
                "default": speech.WHISPER_DEFAULT,
                "tooltip": "Whisper model: an official name (downloaded to models/whisper on first use, progress in "
                           "the console) or a .pt checkpoint found in models/whisper. Loaded with safe unpickling."}),
            "language": (["auto", *speech.languages()], {
                "default": "auto", "tooltip": "Spoken language code, or auto to detect it."}),
            "task": (list(speech.TASKS), {
                "default": "transcribe", "tooltip": "transcribe keeps the language; translate gives English."}),
        }}

    def transcribe(self, audio, model, language, task):
        clips = audio_ops.waveform_batch(audio)[0].shape[0]  # checks the input before a model load or download
        dirs = model_dirs("whisper")
        whisper_model = self.helper_model("whisper", model, speech.make_loader(dirs[0]),
                                          resolve=speech.resolve_whisper)
        texts, notes = speech.transcribe_audio(whisper_model, audio, language, task, progress=progress_bar(clips))
        text = "\n".join(texts)
        return shown((text,), [text or "(no speech)", *notes])


class StyleAlignedWeatherPhrase:
    DESCRIPTION = ("Current weather at a place from OpenWeatherMap as a short phrase such as 'light rain, "
                   "12 °C, evening'. The API key is read from an environment variable; only the variable's "
                   "name is in the workflow, so the key never reaches a saved workflow or the host's history.")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("weather",)
    OUTPUT_TOOLTIPS = ("Conditions, temperature and part of day; empty (with a note) on error when asked.",)
    FUNCTION = "weather"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "location": ("STRING", {"default": "Paris,FR", "tooltip": "City,CountryCode (e.g. 'Kyoto,JP') "
                                                                          "or 'lat,lon' (e.g. '48.85,2.35')."}),
                "units": (list(weather.UNITS), {"default": "metric", "tooltip": "metric = °C, imperial = °F, "
                                                                                "standard = kelvin."}),
                "api_key_env": ("STRING", {"default": weather.ENV_KEY, "tooltip": "Name of the environment variable "
                                           "that holds your OpenWeatherMap key (only the name is saved)."}),
                "on_error": (list(ON_ERROR), {"default": ON_ERROR[0], "tooltip": "Stop the run with a message, or "
                                              "continue with an empty weather slot and show the reason."}),
            },
            "optional": {
                "base_url": ("STRING", {"default": weather.DEFAULT_BASE_URL, "tooltip": "Current-weather endpoint; "
                                        "change only for a proxy or a test server."}),
                "timeout": ("FLOAT", {"default": 10.0, "min": 0.5, "max": 120.0, "step": 0.5,
                                      "tooltip": "Seconds each try may take in all, however slowly the server "
                                                 "sends."}),
                "retries": ("INT", {"default": 3, "min": 0, "max": 10, "tooltip": "Extra tries on timeouts, rate "
                                    "limits (429) and server errors (5xx), with exponential backoff."}),
            },
        }

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        # weather changes: re-query at most every 10 minutes instead of caching forever
        return int(time.time() // 600)

    def weather(self, location, units, api_key_env, on_error, base_url=weather.DEFAULT_BASE_URL, timeout=10.0,
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


class StyleAlignedMusicMood(HelperModelNode):
    DESCRIPTION = ("Labels music AUDIO with a genre and a mood by zero-shot CLAP over lists you can edit; "
                   "gives a phrase such as 'calm jazz music' and the scores.")
    RETURN_TYPES = ("STRING", "STRING")
    RETURN_NAMES = ("music", "scores")
    OUTPUT_TOOLTIPS = ("Top mood and genre as a phrase (first clip of the batch).",
                       "Top labels with probabilities; each list's probabilities sum to 1 over its labels.")
    FUNCTION = "classify"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "audio": ("AUDIO", {"tooltip": "Music to label; any rate and channels (first clip of a batch)."}),
            **model_inputs("clap", [music.CLAP_DEFAULT, "laion/larger_clap_music"]),
            "genres": ("STRING", {"default": ", ".join(music.DEFAULT_GENRES), "multiline": True,
                                  "tooltip": "Candidate genres, separated by commas or new lines."}),
            "moods": ("STRING", {"default": ", ".join(music.DEFAULT_MOODS), "multiline": True,
                                 "tooltip": "Candidate moods, separated by commas or new lines."}),
            "top_k": ("INT", {"default": 3, "min": 1, "max": 20, "tooltip": "How many labels per list to show."}),
        }}

    def classify(self, audio, model, hub_id, genres, moods, top_k):
        label_sets = {"moods": music.parse_labels(moods, "moods"), "genres": music.parse_labels(genres, "genres")}
        waveform, rate = audio_ops.waveform_batch(audio)
        clip = audio_ops.to_mono(waveform)[0] if waveform.shape[0] else waveform.new_zeros(0)
        if audio_ops.is_silent(clip):
            return shown(("", ""), ["audio is silent or empty: no music labels"])
        bundle = self.helper_model("clap", chosen(model, hub_id), music.load_clap)
        bar = progress_bar(1)
        scores = music.classify(bundle, clip, rate, label_sets)
        bar(1, 1)
        phrase, lines = music.phrase(scores), music.score_lines(scores, top_k)
        return shown((phrase, lines), [phrase, lines])


def _fusion_inputs(prompt_tooltip: str) -> dict:
    sources = {
        "caption": "Captions from Image Caption (one per line).",
        "transcript": "Transcript from Speech Transcript.",
        "weather": "Phrase from Weather Phrase.",
        "music": "Phrase from Music Mood.",
    }
    return {
        "required": {
            "template": ("STRING", {"default": prompt_fusion.DEFAULT_TEMPLATE, "multiline": True, "tooltip":
                                    "Text with slots {prompt} {caption} {transcript} {weather} {music}; empty slots "
                                    "vanish with their comma."}),
            "prompt": ("STRING", {"default": "", "multiline": True, "tooltip": prompt_tooltip}),
            "max_words": ("INT", {"default": prompt_fusion.DEFAULT_MAX_WORDS, "min": 0, "max": 1000, "tooltip":
                                  "Word budget per prompt (55 words ≈ CLIP's 77 tokens); the longest source is cut "
                                  "first, with a note. 0 = no limit."}),
        },
        "optional": {name: ("STRING", {"forceInput": True, "tooltip": tip}) for name, tip in sources.items()},
    }


class StyleAlignedPromptFusion:
    DESCRIPTION = "Fills a template with the multi-modal sources into one prompt."
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("prompt",)
    OUTPUT_TOOLTIPS = ("The fused prompt on one line.",)
    FUNCTION = "fuse"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        return _fusion_inputs("Your own text for the {prompt} slot.")

    def fuse(self, template, prompt, max_words, caption="", transcript="", weather="", music=""):
        sources = {"prompt": prompt, "caption": ", ".join(prompt_fusion.as_lines(caption)),
                   "transcript": transcript, "weather": weather, "music": music}
        text, notes = prompt_fusion.fuse(template, sources, max_words)
        return shown((text,), [text, *notes])


class StyleAlignedPromptFusionList:
    DESCRIPTION = ("One fused prompt per batch image, one per line, for the batch-prompt node (line 1 is the "
                   "style reference). {prompt} and {caption} take their i-th line; other slots are shared.")
    RETURN_TYPES = ("STRING", "INT")
    RETURN_NAMES = ("prompts", "count")
    OUTPUT_TOOLTIPS = ("One prompt per line; the first line is the style reference.", "Number of lines.")
    FUNCTION = "fuse"
    CATEGORY = CATEGORY

    @classmethod
    def INPUT_TYPES(cls):
        return _fusion_inputs("One line per image for the {prompt} slot; a single line is used for every image.")

    def fuse(self, template, prompt, max_words, caption="", transcript="", weather="", music=""):
        sources = {"caption": caption, "transcript": transcript, "weather": weather, "music": music}
        lines, notes = prompt_fusion.fuse_lines(template, prompt, sources, max_words)
        return shown(("\n".join(lines), len(lines)), [*lines, *notes])



CAPTION_TEMPLATE = "{caption}, {transcript}, {weather}, {music}"


class MultimodalCaption:
    """The four modality nodes and Prompt Fusion in one node: each connected source runs through the very
    node that handles it alone (kept here, so each keeps its model between runs), then the fusion node."""

    DESCRIPTION = ("One caption from any of an image (BLIP caption), speech audio (Whisper transcript), music "
                   "audio (CLAP mood and genre) and a place (current weather from OpenWeatherMap), fused through a "
                   "template; leave out what you do not have.")
    DETAILS = ("Each source gives exactly the text of its own node (Image Caption, Speech Transcript, Music "
               "Mood, Weather Phrase) and the fusion that of Prompt Fusion. The weather key is read from an "
               "environment variable; only its name is saved.")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("caption",)
    OUTPUT_TOOLTIPS = ("The fused caption on one line (several images' captions joined with commas).",)
    FUNCTION = "describe"
    CATEGORY = CATEGORY
    # source input -> (prefix of its options here, the node that handles it alone, that node's source input, slot)
    SOURCES = {
        "image": ("caption", StyleAlignedImageCaption, "images", "caption"),
        "speech_audio": ("speech", StyleAlignedSpeechTranscript, "audio", "transcript"),
        "music_audio": ("music", StyleAlignedMusicMood, "audio", "music"),
        "location": ("weather", StyleAlignedWeatherPhrase, "location", "weather"),
    }
    LABELS = {"caption": "Image caption", "speech": "Speech transcript", "music": "Music mood", "weather": "Weather"}

    def __init__(self):
        self.parts = {source: node() for source, (_, node, _, _) in self.SOURCES.items()}

    @classmethod
    def _options(cls, section):
        """The handling nodes' own inputs of `section` (their source inputs left out), named `<prefix>_<name>`
        and with the source in front of the tooltip."""
        options = {}
        for prefix, node, source_input, _ in cls.SOURCES.values():
            for name, (kind, *extra) in node.INPUT_TYPES().get(section, {}).items():
                if name != source_input:
                    spec = dict(extra[0]) if extra else {}
                    spec["tooltip"] = f"{cls.LABELS[prefix]}: {spec.get('tooltip', '')}"
                    options[f"{prefix}_{name}"] = (kind, spec)
        return options

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "template": ("STRING", {"default": CAPTION_TEMPLATE, "multiline": True, "tooltip":
                                        "Text with slots {caption} {transcript} {weather} {music}; the slot of a "
                                        "source left out vanishes with its comma."}),
                "max_words": ("INT", {"default": prompt_fusion.DEFAULT_MAX_WORDS, "min": 0, "max": 1000, "tooltip":
                                      "Word budget of the caption (55 words ≈ CLIP's 77 tokens); the longest source is "
                                      "cut first, with a note. 0 = no limit."}),
                "location": ("STRING", {"default": "", "tooltip": "Place for the weather phrase: City,CountryCode "
                                        "(e.g. 'Kyoto,JP') or 'lat,lon'. Empty = no weather."}),
                **cls._options("required"),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "Image(s) to caption with BLIP; several images' captions are joined "
                                               "with commas."}),
                "speech_audio": ("AUDIO", {"tooltip": "Speech to transcribe with Whisper, e.g. from Load Audio."}),
                "music_audio": ("AUDIO", {"tooltip": "Music whose mood and genre CLAP names (first clip of a "
                                                     "batch)."}),
                **cls._options("optional"),
            },
        }

    @classmethod
    def IS_CHANGED(cls, location=None, **kwargs):
        # with a place: the weather changes, so run again at most every 10 minutes (as Weather Phrase)
        return "" if isinstance(location, str) and not location.strip() else StyleAlignedWeatherPhrase.IS_CHANGED()

    def describe(self, template, max_words, location="", image=None, speech_audio=None, music_audio=None,
                 **options):
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
            prefix, _, source_input, slot = self.SOURCES[source]
            part = self.parts[source]
            mine = {name[len(prefix) + 1:]: v for name, v in options.items() if name.startswith(prefix + "_")}
            out = getattr(part, part.FUNCTION)(**{source_input: value}, **mine)
            texts[slot] = out["result"][0]
            lines.append(f"{self.LABELS[prefix]}: " + out["ui"]["text"][0].replace("\n", "; "))
        fused = StyleAlignedPromptFusion().fuse(template, "", max_words, **texts)
        return shown(fused["result"], [fused["ui"]["text"][0], *lines])


NODE_CLASS_MAPPINGS = {
    "StyleAlignedImageCaption": StyleAlignedImageCaption,
    "StyleAlignedSpeechTranscript": StyleAlignedSpeechTranscript,
    "StyleAlignedWeatherPhrase": StyleAlignedWeatherPhrase,
    "StyleAlignedMusicMood": StyleAlignedMusicMood,
    "StyleAlignedPromptFusion": StyleAlignedPromptFusion,
    "StyleAlignedPromptFusionList": StyleAlignedPromptFusionList,
    "MultimodalCaption": MultimodalCaption,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "StyleAlignedImageCaption": "Style Aligned Image Caption (BLIP)",
    "StyleAlignedSpeechTranscript": "Style Aligned Speech Transcript (Whisper)",
    "StyleAlignedWeatherPhrase": "Style Aligned Weather Phrase",
    "StyleAlignedMusicMood": "Style Aligned Music Mood (CLAP)",
    "StyleAlignedPromptFusion": "Style Aligned Prompt Fusion",
    "StyleAlignedPromptFusionList": "Style Aligned Prompt Fusion (batch lines)",
    "MultimodalCaption": "Style Aligned Multimodal Caption",
}
