"""The reference rows of a chunked batch: rows 0..K-1 of every conditioning chunk."""



def rows_per_chunk(batch, chunks):
    """Rows in each of the `chunks` equal conditioning chunks of a batch."""
    if chunks < 1 or batch % chunks:
        raise ValueError(f"batch of {batch} rows does not split into {chunks} conditioning chunks")
    return batch // chunks


def reference_rows(batch, chunks, refs):
    """Batch indices of the reference rows, chunk by chunk."""
    rows = rows_per_chunk(batch, chunks)
    return [chunk * rows + r for chunk in range(chunks) for r in range(min(refs, rows))]


def replace_reference_rows(x, references, chunks):
    """x (B, ...) with rows 0..K-1 of every chunk set to `references` (K, ...)."""
    rows = reference_rows(x.shape[0], chunks, references.shape[0])
    if references.ndim == x.ndim == 5 and references.shape[2] != x.shape[2]:  # clips (B, C, T, H, W)
        raise ValueError(f"style_reference: the reference clip has {_frames(references)} but the clips being "
                         f"generated have {_frames(x)}; generate clips of the reference's length (connected to Style "
                         "Aligned Batch Prompts, it sets the batch's), or invert a reference clip of this length")
    if references.shape[1:] != x.shape[1:]:
        raise ValueError(f"style_reference: the reference latent is {_size(references)} but the images being "
                         f"generated are {_size(x)}; generate at the reference's size, or encode and invert the "
                         "reference at the generation size")
    out = x.clone()
    per_chunk = len(rows) // chunks
    out[rows] = references[:per_chunk].to(x).repeat(chunks, *([1] * (x.dim() - 1)))
    return out


def zero_reference_rows(x, chunks, refs):
    """x (B, ...) with the reference rows zeroed (a ControlNet residual the references must not get)."""
    out = x.clone()
    out[reference_rows(x.shape[0], chunks, refs)] = 0
    return out


def _frames(clips):
    count = clips.shape[2]
    return f"{count} latent frame{'s' if count != 1 else ''}"


def _size(latent):
    shape = tuple(latent.shape[1:])
    if len(shape) == 3 or (len(shape) == 4 and shape[1] == 1):  # an image, or one frame of a video latent
        return f"{shape[0]} channels x {shape[-2]}x{shape[-1]} (latent)"
    return str(shape)
