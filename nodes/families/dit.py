"""The DiT adapter (Flux and Chroma, SD3 / SD3.5, Qwen-Image): which blocks share, where sharing hooks in,
and how positions enter.

Two hooks per clone, both chained to what was registered before:
- a "dit" block replace on every block (`BlockMarker`) tells which block runs and how its joint
  sequence is laid out (text tokens first, image tokens after; Flux's single blocks reuse the counts
  of its double blocks);
- an `optimized_attention_override` (`JointAttentionOverride`) shares on the joint sequence of the
  selected blocks and calls any override already registered as its kernel.
Positions: Flux, Chroma and Qwen-Image turn q and k by RoPE inside attention, so the reference keys
are turned once more to sit beside the target (ShiftPE); SD3 adds absolute positions at the input,
where nothing can move without changing the reference row.
"""

import functools
import inspect
import math
from dataclasses import dataclass, field

from ...core.alignment.attention import attention_heads, share
from ...core.alignment.positions import reference_key_turn, untwist_gains, untwist_schedule
from ..hooks import CALL, call_of, warn_once

X_AXIS = 2  # image ids are (index, row, column)


@dataclass(frozen=True)
class DitFamily:
    name: str
    config_classes: tuple  # the host's model config classes of this family
    blocks: tuple  # (our kind, attribute of the block list, the host's "dit" replace name)
    presets: dict = field(default_factory=dict)  # layer mode -> the kinds it selects; "auto" is the default
    rope: bool = True  # positions are turned inside attention (else added at the input)
    pe_tokens: int = 2  # the token axis of the rotations a block gets as "pe" (Flux: (B, 1, L, P, 2, 2))


FAMILIES = (
    DitFamily("Flux (dev, schnell, Chroma)", ("Flux", "FluxSchnell", "FluxInpaint", "Chroma"),
              (("double", "double_blocks", "double_block"), ("single", "single_blocks", "single_block")),
              {"auto": ("single",), "single-stream blocks": ("single",), "double-stream blocks": ("double",)}),
    DitFamily("SD3 / SD3.5", ("SD3",), (("joint", "joint_blocks", "double_block"),), {"auto": ("joint",)},
              rope=False),
    DitFamily("Qwen-Image", ("QwenImage",), (("joint", "transformer_blocks", "double_block"),), {"auto": ("joint",)},
              pe_tokens=1),  # (B, L, 1, P, 2, 2)
)


def family_for(config_class, diffusion_model):
    """The DiT family of a model config class name, when its diffusion model has the blocks we hook."""
    for family in FAMILIES:
        if config_class in family.config_classes and all(hasattr(diffusion_model, b[1]) for b in family.blocks):
            return family
    return None


BLOCK = "style_aligned_block"  # the key of the running block in the transformer_options a block passes down
ROTATIONS = "style_aligned_rotations"  # and of the rotations the block turns q and k by (its "pe")


class BlockMarker:
    """"dit" block replace: hands the block a copy of its transformer_options that names the block and carries
    its rotary rotations (so the attention override knows where it runs and can undo the rotation around
    AdaIN) and, where the block sees text and image apart, records their token counts on the call; then runs
    the block as the host or an earlier replace would."""

    def __init__(self, key, pe_tokens=2, previous=None):
        self.key = key
        self.pe_tokens = pe_tokens
        self.previous = previous

    def __call__(self, args, extra):
        options = args.get("transformer_options") or {}
        call = options.get(CALL)
        txt, img = args.get("txt"), args.get("img")
        if call is not None and txt is not None and img is not None:
            call.joint = (txt.shape[1], img.shape[1])
        pe = args.get("pe")
        rotations = pe.movedim(self.pe_tokens, 2) if pe is not None and pe.ndim == 6 else None
        args = {**args, "transformer_options": {**options, BLOCK: self.key, ROTATIONS: rotations}}
        return self.previous(args, extra) if self.previous is not None else extra["original_block"](args)


def _parameter(name, default=inspect.Parameter.empty):
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)


# the host kernels' signature, to read any call (heads and mask come positionally or by name)
_KERNEL = inspect.Signature([_parameter(n) for n in ("q", "k", "v", "heads")]
                            + [_parameter(n, d) for n, d in (("mask", None), ("attn_precision", None),
                                                             ("skip_reshape", False), ("skip_output_reshape", False))]
                            + [inspect.Parameter("rest", inspect.Parameter.VAR_KEYWORD)])


@functools.lru_cache(maxsize=64)
def _key_turn(mode, axes_dim, theta, distance):
    return reference_key_turn(mode, list(axes_dim), theta, X_AXIS, distance)


class JointAttentionOverride:
    """`optimized_attention_override`: StyleAligned joint attention in the selected blocks inside the
    active range; every other call (other blocks, SD3.5's image-only attention of a non-selected block) goes
    to the kernel the host would have used: an override registered before ours (or set after the patch, see
    `DitAdapter.per_call`), else the block's checkpoint-selected kernel, else the host's own.

    Holds nothing that changes: the call's state comes in its transformer_options."""

    def __init__(self, rope=None, preferred=None, previous=None):
        self.rope = rope  # (axes_dim, theta, patch_size) where positions are turned inside attention
        self.preferred = preferred or {}  # block key -> the kernel a checkpoint selected for it (newer hosts)
        self.previous = previous

    def over(self, previous):
        """This override with `previous` as its kernel."""
        return JointAttentionOverride(self.rope, self.preferred, previous)

    def kernel(self, func, block, *args, **kwargs):
        """The host's dispatch for one call: an override wins, then the block's preferred kernel, then func.
        The block's name is taken out of the options it passes on, so an override below that chains ours
        again runs plainly instead of sharing twice."""
        options = kwargs.get("transformer_options")
        if options is not None and BLOCK in options:
            kwargs["transformer_options"] = {k: v for k, v in options.items() if k not in (BLOCK, ROTATIONS)}
        if self.previous is not None:
            return self.previous(func, *args, **kwargs)
        preferred = self.preferred.get(block)
        return preferred(*args, **kwargs) if preferred is not None else func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        options = kwargs.get("transformer_options") or {}  # the host always passes it by name
        block = options.get(BLOCK)
        if block is None:
            return self.kernel(func, None, *args, **kwargs)
        call = call_of(options)
        if call is None or not call.active or block not in call.settings.selected:
            return self.kernel(func, block, *args, **kwargs)  # decided before reading the call: most calls end here
        bound = _KERNEL.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        q, k, v, heads = a["q"], a["k"], a["v"], a["heads"]
        if not a["skip_reshape"]:  # (B, L, heads*dim) -> (B, heads, L, dim) as the host reads it (SD3's v comes
            batch = q.shape[0]     # split into heads already)
            q, k, v = (t.reshape(batch, t.shape[1], heads, -1).transpose(1, 2) for t in (q, k, v))
        image = self._image_tokens(call, q.shape[2])
        if image is None:
            return self.kernel(func, block, *args, **kwargs)

        def attend(q, k, v, key_bias=None, mask=None):
            if key_bias is not None:
                return attention_heads(q, k, v, key_bias)
            return self.kernel(func, block, q, k, v, heads, mask=mask, attn_precision=a["attn_precision"],
                               skip_reshape=True, skip_output_reshape=True, **a["rest"])

        s = call.settings
        rotations = options.get(ROTATIONS)
        frame = None if rotations is None or self.rope is None else rotations[:, :, image]
        out = share(q, k, v, call.chunks, image, s.refs, call.opts, s.weights, attend, self._turn(call), a["mask"],
                    frame, self._gain(call))
        if a["skip_output_reshape"]:  # the caller wants (B, heads, L, dim) back
            return out
        return out.transpose(1, 2).flatten(2)

    @staticmethod
    def _image_tokens(call, length):
        """Where the image tokens are in a joint sequence of `length` (text first), or None if this
        attention is not one we know the layout of."""
        text, image = call.joint or (0, length)
        if length == text + image:
            return slice(text, length)
        if length == image:  # SD3.5's image-only attention in a joint block
            return slice(0, length)
        return None

    def _gain(self, call):
        """The reference keys' per-channel gains of reference_positions "untwist" at this point of the schedule."""
        if self.rope is None or call.settings.positions != "untwist":
            return None
        high, low = untwist_schedule(*call.settings.untwist, call.progress)
        return untwist_gains(self.rope[0], high, low)

    def _turn(self, call):
        if self.rope is None:
            return None
        axes_dim, theta, patch = self.rope
        distance = math.ceil(call.width / patch)  # the latent width in patch tokens
        return _key_turn(call.settings.positions, tuple(axes_dim), theta, distance)


class OverrideOnTop:
    """Per model call (see hooks.StyleAlignedWrapper): keeps our override on top of the call's options. An
    override set on the model after the patch (the core node Model Attention Backend assigns one outright)
    becomes the kernel ours calls, instead of switching the patch off without a word."""

    def __init__(self, override):
        self.override = override

    def __call__(self, transformer_options):
        current = transformer_options.get("optimized_attention_override")
        if not isinstance(current, JointAttentionOverride):
            warn_once("Style Aligned Patch Model: an attention override set after the patch (such as Model Attention "
                      "Backend) is used as the kernel of the shared attention; the patch stays in effect")
            transformer_options["optimized_attention_override"] = self.override.over(current)


class DitAdapter:
    has_group_norm = False

    def __init__(self, family, diffusion_model):
        self.family = family
        self.name = family.name
        self.diffusion_model = diffusion_model
        self.layers = [(kind, i) for kind, attribute, _ in family.blocks
                       for i in range(len(getattr(diffusion_model, attribute)))]
        self.presets = {mode: [key for key in self.layers if key[0] in kinds] for mode, kinds in family.presets.items()}
        self._host_kind = {kind: host for kind, _, host in family.blocks}

    def _rope(self):
        if not self.family.rope:
            return None
        pe = self.diffusion_model.pe_embedder
        return list(pe.axes_dim), pe.theta, self.diffusion_model.patch_size

    def _preferred_kernels(self):
        """Per block, the attention kernel a checkpoint selected for it (newer hosts keep it on a
        `ComfyAttention` module of the block and call it instead of the default when no override is set)."""
        kernels = {}
        for kind, attribute, _ in self.family.blocks:
            for number, block in enumerate(getattr(self.diffusion_model, attribute)):
                for module in block.modules():
                    function = getattr(module, "function", None) if type(module).__name__ == "ComfyAttention" else None
                    if function is not None:
                        kernels[(kind, number)] = function
        return kernels

    def install(self, patched, settings):
        options = patched.model_options.setdefault("transformer_options", {})
        replaces = options.setdefault("patches_replace", {}).setdefault("dit", {})
        for kind, number in self.layers:  # every block, so single blocks know the counts of double ones
            host_key = (self._host_kind[kind], number)
            replaces[host_key] = BlockMarker((kind, number), self.family.pe_tokens, replaces.get(host_key))
        override = JointAttentionOverride(self._rope(), self._preferred_kernels())
        options["optimized_attention_override"] = override.over(options.get("optimized_attention_override"))
        return OverrideOnTop(override)

    @staticmethod
    def remove(patched):
        """Take an earlier Style Aligned DiT patch off a fresh clone, leaving what it had chained."""
        options = patched.model_options.get("transformer_options", {})
        replaces = options.get("patches_replace", {}).get("dit", {})
        ours = [key for key, value in replaces.items() if isinstance(value, BlockMarker)]
        for key in ours:
            previous = replaces.pop(key).previous
            if previous is not None:
                replaces[key] = previous
        override = options.get("optimized_attention_override")
        if isinstance(override, JointAttentionOverride):
            if override.previous is None:
                del options["optimized_attention_override"]
            else:
                options["optimized_attention_override"] = override.previous
        return bool(ours or isinstance(override, JointAttentionOverride))
