"""The DiT adapter: StyleAligned on any diffusion transformer a family record (family.py) describes.

Two kinds of hook per clone, chained to what was registered before:
- a marker on every block says which block runs and carries its rotary rotations: the host's "dit" block
  replace where the family has one (`BlockMarker`, which also reads the text and image token counts of the
  blocks that see them apart), else an object patch on the forward of the block's attention module
  (`ForwardMarker`, through a context variable: per thread, like everything of one model call);
- an `optimized_attention_override` (`JointAttentionOverride`) shares in the selected blocks and calls any
  override already registered as its kernel.
Positions: on RoPE families the reference keys are turned once more to sit beside the target (ShiftPE) or
their frequency bands weighted (untwist), and AdaIN runs on un-rotated q and k; families that add absolute
positions at the input (SD3) have nothing to move.
"""

import contextlib
import contextvars
import functools
import inspect

from ...core.alignment.attention import attention_heads, share
from ...core.alignment.positions import reference_key_turn, untwist_gains, untwist_schedule
from ..hooks import CALL, call_of, warn_once

BLOCK = "style_aligned_block"  # the key of the running block in the transformer_options a block passes down
ROTATIONS = "style_aligned_rotations"  # and of the rotations the block turns q and k by (its "pe")
_marked = contextvars.ContextVar("style_aligned_block", default=None)  # (block, rotations) of a ForwardMarker


def _rotations(pe):
    """A block's rotary `pe` as (B or 1, 1, L, P, 2, 2); hosts put the token axis at 1 or 2."""
    if pe is None or getattr(pe, "ndim", 0) != 6:
        return None
    return pe if pe.shape[1] == 1 else pe.movedim(1, 2)


class BlockMarker:
    """"dit" block replace: hands the block a copy of its transformer_options that names the block and carries
    its rotary rotations (so the attention override knows where it runs and can undo the rotation around
    AdaIN) and, where the block sees text and image apart, records the text length on the call; then runs
    the block as the host or an earlier replace would."""

    def __init__(self, key, previous=None):
        self.key = key
        self.previous = previous

    def __call__(self, args, extra):
        options = args.get("transformer_options") or {}
        call = options.get(CALL)
        txt, img = args.get("txt"), args.get("img")
        if call is not None and txt is not None and img is not None:
            call.joint = (txt.shape[1], img.shape[1])
        args = {**args, "transformer_options": {**options, BLOCK: self.key, ROTATIONS: _rotations(args.get("pe"))}}
        return self.previous(args, extra) if self.previous is not None else extra["original_block"](args)


class ForwardMarker:
    """Object patch for the forward of one block's attention module, for families without a "dit" replace:
    marks the block (and its rotations, the argument `pe`: a name or a position after self, read either way)
    for the attention calls made inside it, in a context variable of this thread. `previous`: another pack's
    object patch on that forward, which this one runs (and gives back when removed). Reverted by the host when
    the clone unloads."""

    def __init__(self, key, module, pe=None, forward=None, previous=None):
        self.key = key
        self.forward = forward or module.forward
        self.previous = previous
        self.pe_at = _argument(type(module).forward, pe)

    def __call__(self, *args, **kwargs):
        position, name = self.pe_at
        pe = kwargs.get(name) if name in kwargs else args[position] if position < len(args) else None
        token = _marked.set((self.key, _rotations(pe)))
        try:
            return self.forward(*args, **kwargs)
        finally:
            _marked.reset(token)


def _argument(forward, pe):
    """(position after self, name) of an argument of a module class's forward given as either; (inf, None)
    when it has none."""
    names = [p.name for p in inspect.signature(forward).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    if isinstance(pe, int) and not isinstance(pe, bool):
        return pe, names[pe] if pe < len(names) else None
    if isinstance(pe, str):
        return (names.index(pe) if pe in names else float("inf")), pe
    return float("inf"), None


@contextlib.contextmanager
def _unmarked():
    token = _marked.set(None)
    try:
        yield
    finally:
        _marked.reset(token)


def _parameter(name, default=inspect.Parameter.empty):
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)


# the host kernels' signature, to read any call (heads and mask come positionally or by name)
_KERNEL = inspect.Signature([_parameter(n) for n in ("q", "k", "v", "heads")]
                            + [_parameter(n, d) for n, d in (("mask", None), ("attn_precision", None),
                                                             ("skip_reshape", False), ("skip_output_reshape", False))]
                            + [inspect.Parameter("rest", inspect.Parameter.VAR_KEYWORD)])


@functools.lru_cache(maxsize=64)
def _key_turn(mode, axes_dim, theta, axis, distance):
    return reference_key_turn(mode, list(axes_dim), theta, axis, distance)


class JointAttentionOverride:
    """`optimized_attention_override`: StyleAligned attention in the selected blocks inside the active range;
    every other call (other blocks, refiners, cross-attention, calls of a shape the family does not share) goes
    to the kernel the host would have used: an override registered before ours (or set after the patch, see
    `OverrideOnTop`), else the block's checkpoint-selected kernel, else the host's own.

    Holds nothing that changes: the call's state comes in its transformer_options (or this thread's marker)."""

    def __init__(self, family, model_facts, preferred=None, previous=None):
        self.family = family
        self.facts = model_facts  # ((axes_dim, theta) of the rotary embedder or None, the model's patch size)
        self.preferred = preferred or {}  # block key -> the kernel a checkpoint selected for it (newer hosts)
        self.previous = previous

    def over(self, previous):
        """This override with `previous` as its kernel."""
        return JointAttentionOverride(self.family, self.facts, self.preferred, previous)

    def kernel(self, func, block, *args, **kwargs):
        """The host's dispatch for one call: an override wins, then the block's preferred kernel, then func.
        The block's marks are taken out of what it passes on, so an override below that chains ours again
        runs plainly instead of sharing twice."""
        options = kwargs.get("transformer_options")
        if options is not None and BLOCK in options:
            kwargs["transformer_options"] = {k: v for k, v in options.items() if k not in (BLOCK, ROTATIONS)}
        with _unmarked():
            if self.previous is not None:
                return self.previous(func, *args, **kwargs)
            preferred = self.preferred.get(block)
            return preferred(*args, **kwargs) if preferred is not None else func(*args, **kwargs)

    def _where(self, options):
        """(the running block, its rotations) from a dit marker's options, else from a forward marker."""
        if options.get(BLOCK) is not None:
            return options[BLOCK], options.get(ROTATIONS)
        return _marked.get() or (None, None)

    def __call__(self, func, *args, **kwargs):
        options = kwargs.get("transformer_options") or {}  # the host always passes it by name
        block, rotations = self._where(options)
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
            batch, dim = q.shape[0], q.shape[-1] // heads  # split into heads already; grouped k/v have fewer)
            q, k, v = (t.reshape(batch, t.shape[1], -1, dim).transpose(1, 2) for t in (q, k, v))
        image = self._image(call, q.shape[2], k.shape[2])
        if image is None:
            return self.kernel(func, block, *args, **kwargs)
        rest = {name: value for name, value in a["rest"].items() if name != "enable_gqa"}
        if k.shape[1] != q.shape[1]:  # grouped-query attention (enable_gqa): each group of query heads reads one
            groups = q.shape[1] // k.shape[1]  # k/v head, as the host's kernels expand them; shared on q's heads
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)

        def attend(q, k, v, key_bias=None, mask=None):
            if key_bias is not None:
                return attention_heads(q, k, v, key_bias)
            return self.kernel(func, block, q, k, v, heads, mask=mask, attn_precision=a["attn_precision"],
                               skip_reshape=True, skip_output_reshape=True, **rest)

        s = call.settings
        frame = None if rotations is None or self.facts[0] is None else rotations[:, :, image]
        out = share(q, k, v, call.chunks, image, s.refs, call.opts, s.weights, attend, self._turn(call), a["mask"],
                    frame, self._gain(call))
        if a["skip_output_reshape"]:  # the caller wants (B, heads, L, dim) back
            return out
        return out.transpose(1, 2).flatten(2)

    def _image(self, call, length, keys):
        """Where the image tokens are in this call, or None if it is not one the family shares."""
        if self.family.shared_calls == "self" and keys != length:  # cross-attention to the text
            return None
        tokens = self.family.image_tokens(call.latent_shape, self.facts[1])
        return self.family.image_slice(length, tokens, call.joint[0] if call.joint else None)

    def _gain(self, call):
        """The reference keys' per-channel gains of reference_positions "untwist" at this point of the schedule."""
        if self.facts[0] is None or call.settings.positions != "untwist":
            return None
        high, low = untwist_schedule(*call.settings.untwist, call.progress)
        return untwist_gains(self.facts[0][0], high, low)

    def _turn(self, call):
        """ShiftPE: the reference keys one latent width (in patch tokens) along the width axis."""
        if self.facts[0] is None:
            return None
        (axes_dim, theta), patch = self.facts
        distance = -(-call.width // (patch if isinstance(patch, int) else patch[-1]))
        return _key_turn(call.settings.positions, tuple(axes_dim), theta, self.family.width_axis, distance)


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


def _module(root, path):
    for name in filter(None, path.split(".")):
        root = root[int(name)] if name.isdigit() else getattr(root, name)
    return root


class DitAdapter:
    has_group_norm = False

    def __init__(self, family, diffusion_model):
        self.family = family.for_model(diffusion_model)
        self.name = family.name
        self.diffusion_model = diffusion_model
        # once each: records list a block twice where it makes two attention calls (a joint, then an image-only)
        self.layers = list(dict.fromkeys((b.kind, i) for b in family.blocks
                                         for i in range(len(_module(diffusion_model, b.path)))))
        self.presets = {mode: [key for key in self.layers if key[0] in kinds] for mode, kinds in family.presets.items()}

    def _facts(self):
        """((axes_dim, theta) of the rotary embedder or None, the patch size): what the override needs of the
        model, read once (the override must not hold the model: older hosts deep-copy patches per clone)."""
        rope = None
        if self.family.rope:
            embedder = _module(self.diffusion_model, self.family.embedder)
            rope = (tuple(embedder.axes_dim), embedder.theta)
        return rope, self.family.patch_size(self.diffusion_model)

    def _preferred_kernels(self):
        """Per block, the attention kernel a checkpoint selected for it (newer hosts keep it on a
        `ComfyAttention` module of the block and call it instead of the default when no override is set)."""
        kernels = {}
        for blocks in self.family.blocks:
            for number, block in enumerate(_module(self.diffusion_model, blocks.path)):
                for module in block.modules():
                    function = getattr(module, "function", None) if type(module).__name__ == "ComfyAttention" else None
                    if function is not None:
                        kernels[(blocks.kind, number)] = function
        return kernels

    def _mark_blocks(self, patched, options):
        replaces = options.setdefault("patches_replace", {}).setdefault("dit", {})
        for blocks in self.family.blocks:  # every block, so single blocks know the text length of double ones
            for number in range(len(_module(self.diffusion_model, blocks.path))):
                key = (blocks.kind, number)
                if blocks.replace is not None:
                    host_key = (blocks.replace, number)
                    replaces[host_key] = BlockMarker(key, replaces.get(host_key))
                    continue
                path = ".".join(filter(None, (blocks.path, str(number), blocks.attention)))
                name = f"diffusion_model.{path}.forward"
                previous = patched.object_patches.get(name)  # another pack's, run inside ours
                # the module's own forward, not a marker of another clone that is loaded right now
                forward = previous if previous is not None else patched.get_model_object(name)
                patched.add_object_patch(name, ForwardMarker(key, _module(self.diffusion_model, path), blocks.pe,
                                                             forward, previous))

    def install(self, patched, settings):
        options = patched.model_options.setdefault("transformer_options", {})
        self._mark_blocks(patched, options)
        override = JointAttentionOverride(self.family, self._facts(), self._preferred_kernels())
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
        markers = [key for key, value in patched.object_patches.items() if isinstance(value, ForwardMarker)]
        for key in markers:
            previous = patched.object_patches.pop(key).previous
            if previous is not None:
                patched.object_patches[key] = previous
        override = options.get("optimized_attention_override")
        if isinstance(override, JointAttentionOverride):
            if override.previous is None:
                del options["optimized_attention_override"]
            else:
                options["optimized_attention_override"] = override.previous
        return bool(ours or markers or isinstance(override, JointAttentionOverride))
