# Prints the register tiles of sluice-engine PanelKernels (Q4_0, Q8_0 and F16; 16, 8, 4, 2 and 1 input
# vectors):   python3 tools/gen-panel-tiles.py
# Each type has its own methods: one method holding two decodings grew past C2's inlining node budget.
# One column per loop step (Q4_0: a byte's low or high nibble): a two-column step was no faster at 16
# vectors and 25% slower at 4 in the engine benchmark. C1 cannot compile the 16-vector tiles (out of
# virtual registers): PanelKernels keeps C1 off its tiles by a compiler directive (see PanelKernels.WIDE).
TYPES = {
    "Q4": ("Q4_0", "Q4_BLOCK", "            FloatVector d = scales(seg, o), m8 = d.mul(-8f);",
           "                FloatVector w = column(seg, o + SCALE_BYTES + (j & 15) * ROWS, j >= 16, d, m8);"),
    "Q8": ("Q8_0", "Q8_BLOCK", "            FloatVector d = scales(seg, o);",
           "                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);"),
    "F16": ("F16", "F16_BLOCK", None,
            "                FloatVector w = halves(seg, o + 2L * j * ROWS);"),
}

def tile(k, t):
    ggml, block, scales, decode = TYPES[t]
    acc = [f"a{i}" for i in range(k)]
    L = []
    L.append(f"    /** {ggml}, {k} input vector{'s' if k > 1 else ''}; see {{@link #tiles}}. */")
    L.append(f"    private static void tile{k}{t}(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {{")
    L.append("        FloatVector " + ", ".join(f"{a} = FloatVector.zero(F)" for a in acc[:4]) + ";")
    for s in range(4, k, 4):
        L.append("        FloatVector " + ", ".join(f"{a} = a0" for a in acc[s:s+4]) + ";")
    L.append("        for (int b = 0; b < nb; b++) {")
    L.append(f"            long o = off + (long) b * {block};")
    if scales:
        L.append(scales)
    # Q4_0 tiles of up to 4 vectors walk the low nibbles, then the high ones (no branch per column): 19%
    # faster at 4 vectors, 4% slower at 8, and the 16-vector tile ran at a fifth of its speed that way
    # (presumably past C2's inlining budget)
    loops = [("0", "32", decode)] if t != "Q4" or k > 4 else [
        ("0", "16", "                FloatVector w = lowNibbles(nibbles(seg, o + SCALE_BYTES + j * ROWS), d, m8);"),
        ("16", "32", "                FloatVector w = highNibbles(nibbles(seg, o + SCALE_BYTES + (j - 16) * ROWS), d, m8);")]
    for lo, hi, dec in loops:
        L.append(f"            for (int j = {lo}; j < {hi}; j++) {{")
        L.append(dec)
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE;")
        for i in range(k):
            L.append(f"                {acc[i]} = w.fma(FloatVector.broadcast(F, xt[xa{' + ' + str(i) if i else ''}]), {acc[i]});")
        L.append("            }")
    L.append("        }")
    L.append("        VectorMask<Float> m = F.indexInRange(0, valid);")
    for i in range(k):
        L.append(f"        {acc[i]}.intoArray(out, oOff{' + ' + str(i) + ' * rows' if i else ''}, m);")
    L.append("    }")
    return "\n".join(L)

def pair(k, t):
    """Two consecutive panels against k vectors: 2k independent FMA chains (k accumulators alone are
    latency-bound below 8), each lane's chain the same as in the one-panel tile."""
    ggml, block, scales, decode = TYPES[t]
    a = [f"a{i}" for i in range(k)]
    b = [f"b{i}" for i in range(k)]
    L = []
    L.append(f"    /** {ggml}, panels at {{@code off}} and the next one, {k} input vector{'s' if k > 1 else ''}; see {{@link #tiles}}. */")
    L.append(f"    private static void tile{k}x2{t}(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {{")
    L.append("        FloatVector " + ", ".join(f"{v} = FloatVector.zero(F)" for v in (a + b)[:4]) + ";")
    rest = (a + b)[4:]
    for s0 in range(0, len(rest), 4):
        L.append("        FloatVector " + ", ".join(f"{v} = a0" for v in rest[s0:s0+4]) + ";")
    L.append(f"        long off2 = off + (long) nb * {block};")
    L.append("        for (int b = 0; b < nb; b++) {")
    L.append(f"            long o = off + (long) b * {block}, o2 = off2 + (long) b * {block};")
    if scales:
        L.append(scales)
        L.append(scales.replace("d = scales(seg, o)", "e = scales(seg, o2)").replace("m8 = d.mul", "n8 = e.mul"))
    if t == "Q4":  # one loop: two decodings in each of two loops ran past C2's inlining budget (10x slower)
        loops = [("0", "32", "column(seg, {o} + SCALE_BYTES + (j & 15) * ROWS, j >= 16, {d}, {m})")]
    elif t == "Q8":
        loops = [("0", "32", "q8(seg, {o} + SCALE_BYTES + j * ROWS, {d})")]
    else:
        loops = [("0", "32", "halves(seg, {o} + 2L * j * ROWS)")]
    for lo, hi, dec in loops:
        L.append(f"            for (int j = {lo}; j < {hi}; j++) {{")
        L.append("                FloatVector w = " + dec.format(o="o", d="d", m="m8") + ", v = " + dec.format(o="o2", d="e", m="n8") + ";")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE;")
        for i in range(k):
            L.append(f"                FloatVector x{i} = FloatVector.broadcast(F, xt[xa{' + ' + str(i) if i else ''}]);")
            L.append(f"                {a[i]} = w.fma(x{i}, {a[i]});")
            L.append(f"                {b[i]} = v.fma(x{i}, {b[i]});")
        L.append("            }")
    L.append("        }")
    L.append("        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);")
    for i in range(k):
        L.append(f"        {a[i]}.intoArray(out, oOff{' + ' + str(i) + ' * rows' if i else ''}, m);")
        L.append(f"        {b[i]}.intoArray(out, oOff + ROWS{' + ' + str(i) + ' * rows' if i else ''}, m2);")
    L.append("    }")
    return "\n".join(L)

print("\n\n".join([tile(k, t) for t in TYPES for k in (16, 8, 4, 2, 1)] + [pair(k, t) for t in TYPES for k in (4, 2, 1)]))
