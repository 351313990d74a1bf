"""First-order linear recurrences ``y[t] = decay * y[t-1] + v[t]`` without a loop over
rows: the engine of every exponential smoothing in :mod:`lyra.market.indicators` (EMA,
Wilder's RSI and ATR smoothing, the MACD signal).

The rows are cut into blocks of 16; inside a block the recursion is one product with a
triangular matrix of powers of ``decay``, the same for every block; the blocks' carried
values obey the same recursion over blocks and are solved first, recursively. Every
weight is at most 1, so nothing overflows, and the result is within about 1e-15 relative
of the plain loop.
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["linear_scan", "stacked_matmul"]

FloatArray = npt.NDArray[np.float64]

# Exponential smoothing is solved in blocks of this many rows by one matrix product per
# level (see _linear_scan); series up to _DIRECT_SCAN_ROWS long take a single product.
_SCAN_BLOCK_ROWS: Final = 16
_DIRECT_SCAN_ROWS: Final = 128
# Products are stacked in pieces of this many rows, small enough for BLAS to keep each on
# the calling thread (see _stacked_matmul).
_BLAS_PRODUCT_ROWS: Final = 512


def linear_scan(
    w: FloatArray, decay: float, *, out: FloatArray, scale: float = 1.0, first: float | None = None
) -> None:
    """``out[t] = decay * out[t-1] + v[t]`` from ``out[-1] = 0``, without a loop over rows.

    ``v = scale * w``, except ``v[0] = first`` when given (the seed). Cut the rows into
    blocks of 16: inside a block the recursion is a product with the triangular matrix
    ``decay**(i-k)``, the same for every block, so one matrix product solves all blocks
    from a zero start. Each block then needs the true last value of the block before it,
    decayed by ``decay**(i+1)``; those last values obey the same recursion over blocks,
    with ``decay**16``, so they are solved first by the same function on a 16 times
    shorter series and enter the product as one extra column. Every weight is at most 1
    (nothing overflows) and the result is within about 1e-15 relative of the plain loop.
    """
    rows = len(w)
    if rows <= _DIRECT_SCAN_ROWS:
        v = w * scale
        if first is not None and rows:
            v[0] = first
        np.matmul(v, _decay_powers(decay)[:rows, :rows], out=out)
        return
    size = _SCAN_BLOCK_ROWS
    whole, rest = divmod(rows, size)
    blocks = np.empty((whole + (rest > 0), size + 1), dtype=np.float64)
    np.multiply(w[: whole * size].reshape(whole, size), scale, out=blocks[:whole, :size])
    if rest:
        np.multiply(w[whole * size :], scale, out=blocks[whole, :rest])
        blocks[whole, rest:size] = 0.0
    if first is not None:
        blocks[0, 0] = first
    matrix = _block_matrix(decay)
    ends = np.empty(len(blocks), dtype=np.float64)
    stacked_matmul(blocks[:, :size], matrix[:size, -1], out=ends)
    linear_scan(ends, decay**size, out=ends)  # w is copied into blocks before out is written
    blocks[0, size] = 0.0
    blocks[1:, size] = ends[:-1]
    stacked_matmul(blocks[:whole], matrix, out=out[: whole * size].reshape(whole, size))
    if rest:
        np.matmul(blocks[whole], matrix[:, :rest], out=out[whole * size :])


def stacked_matmul(a: FloatArray, b: FloatArray, *, out: FloatArray) -> None:
    """``out[...] = a @ b`` done as a stack of products of at most 512 rows of ``a``.

    Each product is then small enough for BLAS (OpenBLAS) to run it on the calling thread:
    one large product would be split over threads, which is slower than the product itself
    when other processes keep the cores busy. ``out`` must be contiguous.
    """
    rows = _BLAS_PRODUCT_ROWS
    whole = len(a) - len(a) % rows
    if whole:
        stacked = (whole // rows, rows, *out.shape[1:])
        np.matmul(a[:whole].reshape(whole // rows, rows, -1), b, out=out[:whole].reshape(stacked))
    if whole < len(a):
        np.matmul(a[whole:], b, out=out[whole:])


@functools.lru_cache(maxsize=64)
def _decay_powers(decay: float) -> FloatArray:
    """Read-only upper-triangular ``T[k, i] = decay**(i-k)`` for ``i >= k`` (pure constants)."""
    powers = np.power(decay, np.arange(_DIRECT_SCAN_ROWS, dtype=np.float64))
    lag = np.subtract.outer(np.arange(_DIRECT_SCAN_ROWS), np.arange(_DIRECT_SCAN_ROWS)).T
    matrix = np.where(lag >= 0, powers[np.maximum(lag, 0)], 0.0)
    matrix.flags.writeable = False
    return matrix


@functools.lru_cache(maxsize=64)
def _block_matrix(decay: float) -> FloatArray:
    """Read-only ``(17, 16)``: the block's triangular powers over a row ``decay**(i+1)``."""
    size = _SCAN_BLOCK_ROWS
    powers = _decay_powers(decay)
    matrix = np.empty((size + 1, size), dtype=np.float64)
    matrix[:size] = powers[:size, :size]
    matrix[size] = decay * powers[0, :size]
    matrix.flags.writeable = False
    return matrix
