"""A small self-contained GGUF v3 writer and reader (numpy only), with ggml's Q8_0 quantization.

Layout (all little-endian): magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata
count, the metadata key/values, the tensor infos (name, n_dims, dims in ggml order, i.e.
ne[0] = innermost = the last torch dimension, ggml type, offset into the data section), padding
to the alignment, then the tensor data, each tensor starting at a multiple of the alignment.
"""
from __future__ import annotations

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

# ggml tensor types
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
QK8_0 = 32  # Q8_0 block: fp16 scale + 32 int8


class Meta:
    """Typed metadata value wrappers, so that the writer knows the GGUF type to use."""

    def __init__(self, vtype: int, value, elem_type: int | None = None):
        self.vtype, self.value, self.elem_type = vtype, value, elem_type


def u32(v): return Meta(UINT32, int(v))
def i32(v): return Meta(INT32, int(v))
def f32(v): return Meta(FLOAT32, float(v))
def boolean(v): return Meta(BOOL, bool(v))
def string(v): return Meta(STRING, str(v))
def str_array(v): return Meta(ARRAY, list(v), STRING)
def i32_array(v): return Meta(ARRAY, list(v), INT32)


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _value(vtype: int, v) -> bytes:
    if vtype == STRING:
        return _str(v)
    if vtype == BOOL:
        return struct.pack("<B", 1 if v else 0)
    return struct.pack(_SCALAR_FMT[vtype], v)


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """ggml's quantize_row_q8_0_ref over the last axis: per block of 32, d = amax / 127,
    q = round(x / d) (half away from zero); bytes = fp16 d followed by 32 int8, per block."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    assert x.shape[-1] % QK8_0 == 0, x.shape
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127.0
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1.0), 0.0).astype(np.float32)
    v = blocks * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    out = np.empty((blocks.shape[0], 2 + QK8_0), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def dequantize_q8_0(raw: np.ndarray, n: int) -> np.ndarray:
    blocks = raw.reshape(-1, 2 + QK8_0)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)[:n]


class GGUFWriter:
    def __init__(self):
        self.meta: list[tuple[str, Meta]] = []
        self.tensors: list[tuple[str, tuple, int, bytes]] = []

    def add(self, key: str, value: Meta):
        assert isinstance(value, Meta), key
        self.meta.append((key, value))

    def add_tensor(self, name: str, array: np.ndarray, ggml_type: int):
        """array in torch/numpy order; written with dims reversed (ggml order)."""
        a = np.asarray(array)
        if ggml_type == GGML_F32:
            data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        elif ggml_type == GGML_F16:
            data = np.ascontiguousarray(a, dtype="<f2").tobytes()
        elif ggml_type == GGML_Q8_0:
            data = quantize_q8_0(a).tobytes()
        else:
            raise ValueError(ggml_type)
        self.tensors.append((name, tuple(reversed(a.shape)), ggml_type, data))

    def write(self, path: str):
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.meta))
        for key, m in self.meta:
            out += _str(key) + struct.pack("<I", m.vtype)
            if m.vtype == ARRAY:
                out += struct.pack("<IQ", m.elem_type, len(m.value))
                for v in m.value:
                    out += _value(m.elem_type, v)
            else:
                out += _value(m.vtype, m.value)
        offset = 0
        for name, ne, t, data in self.tensors:
            out += _str(name) + struct.pack("<I", len(ne))
            for d in ne:
                out += struct.pack("<Q", d)
            out += struct.pack("<IQ", t, offset)
            offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        out += b"\0" * ((-len(out)) % ALIGNMENT)
        with open(path, "wb") as f:
            f.write(out)
            for _name, _ne, _t, data in self.tensors:
                f.write(data)
                f.write(b"\0" * ((-len(data)) % ALIGNMENT))


# ---------------------------------------------------------------------------------------------
# reader (for checks: round trip, and evaluating the exported file)

def read_gguf(path: str):
    """Returns (metadata dict, {name: float32 numpy array in torch order}, {name: ggml type})."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def rstr():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def rval(t):
        if t == STRING:
            return rstr()
        if t == BOOL:
            return bool(take("<B"))
        if t == ARRAY:
            et, n = take("<IQ")
            return [rval(et) for _ in range(n)]
        return take(_SCALAR_FMT[t])

    assert buf[:4] == GGUF_MAGIC
    pos = 4
    version, n_t, n_kv = take("<IQQ")
    assert version == 3
    meta = {}
    for _ in range(n_kv):
        k = rstr()
        meta[k] = rval(take("<I"))
    infos = []
    for _ in range(n_t):
        name = rstr()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        t, off = take("<IQ")
        infos.append((name, ne, t, off))
    align = meta.get("general.alignment", ALIGNMENT)
    data0 = (pos + align - 1) // align * align
    tensors, types = {}, {}
    for name, ne, t, off in infos:
        n = int(np.prod(ne))
        start = data0 + off
        if t == GGML_F32:
            a = np.frombuffer(buf, "<f4", n, start).astype(np.float32)
        elif t == GGML_F16:
            a = np.frombuffer(buf, "<f2", n, start).astype(np.float32)
        elif t == GGML_Q8_0:
            raw = np.frombuffer(buf, np.uint8, n // QK8_0 * (2 + QK8_0), start)
            a = dequantize_q8_0(raw, n)
        else:
            raise ValueError(t)
        tensors[name] = a.reshape(tuple(reversed(ne)))
        types[name] = t
    return meta, tensors, types
