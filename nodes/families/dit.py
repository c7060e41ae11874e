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

import inspect
import logging
import math
from dataclasses import dataclass, field

from ...core.alignment.joint import attend_flat, shared_joint_attention
from ...core.alignment.positions import reference_key_turn

X_AXIS = 2  # image ids are (index, row, column)
log = logging.getLogger("style_aligned")


@dataclass(frozen=True)
class DitFamily:
    name: str
    config_classes: tuple  # the host's model config classes of this family
    blocks: tuple  # (our kind, attribute of the block list, the host's "dit" replace name)
    presets: dict = field(default_factory=dict)  # layer mode -> the kinds it selects; "auto" is the default
    rope: bool = True  # positions are turned inside attention (else added at the input)


FAMILIES = (
    DitFamily("Flux (dev, schnell, Chroma)", ("Flux", "FluxSchnell", "FluxInpaint", "Chroma"),
              (("double", "double_blocks", "double_block"), ("single", "single_blocks", "single_block")),
              {"auto": ("single",), "single-stream blocks": ("single",), "double-stream blocks": ("double",)}),
    DitFamily("SD3 / SD3.5", ("SD3",), (("joint", "joint_blocks", "double_block"),), {"auto": ("joint",)},
              rope=False),
    DitFamily("Qwen-Image", ("QwenImage",), (("joint", "transformer_blocks", "double_block"),), {"auto": ("joint",)}),
)


def family_for(config_class, diffusion_model):
    """The DiT family of a model config class name, when its diffusion model has the blocks we hook."""
    for family in FAMILIES:
        if config_class in family.config_classes and all(hasattr(diffusion_model, b[1]) for b in family.blocks):
            return family
    return None


class BlockMarker:
    """"dit" block replace: records which block runs (and, where the block sees text and image apart,
    their token counts), then runs the block as the host or an earlier replace would."""

    def __init__(self, state, key, previous=None):
        self.state = state
        self.key = key
        self.previous = previous

    def __call__(self, args, extra):
        txt, img = args.get("txt"), args.get("img")
        if txt is not None and img is not None:
            self.state.joint = (txt.shape[1], img.shape[1])
        self.state.block = self.key
        try:
            return self.previous(args, extra) if self.previous is not None else extra["original_block"](args)
        finally:
            self.state.block = None


def _parameter(name, default=inspect.Parameter.empty):
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)


# the host kernels' signature, to read any call (heads and mask come positionally or by name)
_KERNEL = inspect.Signature([_parameter(n) for n in ("q", "k", "v", "heads")]
                            + [_parameter(n, d) for n, d in (("mask", None), ("attn_precision", None),
                                                             ("skip_reshape", False), ("skip_output_reshape", False))]
                            + [inspect.Parameter("rest", inspect.Parameter.VAR_KEYWORD)])


class JointAttentionOverride:
    """`optimized_attention_override`: StyleAligned joint attention in the selected blocks inside the
    active range; every other call (other blocks, masked attention, SD3.5's image-only attention of a
    non-selected block) goes to the kernel unchanged."""

    def __init__(self, sharing, selected, rope=None, previous=None):
        self.sharing = sharing
        self.selected = frozenset(selected)
        self.rope = rope  # (axes_dim, theta, patch_size) where positions are turned inside attention
        self.previous = previous
        self._turns = {}
        self._told_mask = False

    def kernel(self, func, *args, **kwargs):
        return self.previous(func, *args, **kwargs) if self.previous is not None else func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        s = self.sharing
        options = kwargs.get("transformer_options") or {}  # the host always passes it by name
        if s.state.block not in self.selected or not s.state.active_for(options):
            return self.kernel(func, *args, **kwargs)  # decided before reading the call: most calls end here
        call = _KERNEL.bind(*args, **kwargs)
        call.apply_defaults()
        call = call.arguments
        if call["mask"] is not None:  # padded text (a mask from the conditioning): said once, run plainly
            if not self._told_mask:
                log.warning("Style Aligned Patch Model: this model's attention has a mask (padded text tokens); "
                            "masked attention is not shared, so these images are not aligned")
                self._told_mask = True
            return self.kernel(func, *args, **kwargs)
        q, k, v, heads = call["q"], call["k"], call["v"], call["heads"]
        if not call["skip_reshape"]:  # (B, L, heads*dim) -> (B, heads, L, dim), a view
            q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))
        image = self._image_tokens(q.shape[2])
        if image is None:
            return self.kernel(func, *args, **kwargs)

        def attend(q, k, v, key_bias=None):
            if key_bias is not None:
                return attend_flat(q, k, v, key_bias)
            return self.kernel(func, q, k, v, heads, attn_precision=call["attn_precision"], skip_reshape=True,
                               **call["rest"])

        chunks = len(options.get("cond_or_uncond") or [0])
        out = shared_joint_attention(q, k, v, chunks, image, s.refs, s.opts, s.weights, attend, self._key_turn())
        if call["skip_output_reshape"]:  # the caller wants (B, heads, L, dim) back
            return out.unflatten(-1, (heads, -1)).transpose(1, 2)
        return out

    def _image_tokens(self, length):
        """Where the image tokens are in a joint sequence of `length` (text first), or None if this
        attention is not one we know the layout of."""
        text, image = self.sharing.state.joint or (0, length)
        if length == text + image:
            return slice(text, length)
        if length == image:  # SD3.5's image-only attention in a joint block
            return slice(0, length)
        return None

    def _key_turn(self):
        width = self.sharing.state.width
        if self.rope is None or width is None:
            return None
        if width not in self._turns:
            axes_dim, theta, patch = self.rope
            distance = math.ceil(width / patch)  # the latent width in patch tokens
            self._turns[width] = reference_key_turn(self.sharing.positions, axes_dim, theta, X_AXIS, distance)
        return self._turns[width]

    def __deepcopy__(self, memo):  # clone() deep-copies model_options; the state must stay shared
        return self


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

    def install(self, patched, selected, sharing):
        options = patched.model_options.setdefault("transformer_options", {})
        replaces = options.setdefault("patches_replace", {}).setdefault("dit", {})
        for kind, number in self.layers:  # every block, so single blocks know the counts of double ones
            host_key = (self._host_kind[kind], number)
            replaces[host_key] = BlockMarker(sharing.state, (kind, number), replaces.get(host_key))
        previous = options.get("optimized_attention_override")
        options["optimized_attention_override"] = JointAttentionOverride(sharing, selected, self._rope(), previous)

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
