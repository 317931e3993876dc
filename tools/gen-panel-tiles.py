# Prints the register tiles of sluice-engine PanelKernels (Q4_0, Q8_0 and F16; 16, 8, 4, 2 and 1 input
# vectors, and for Q8_0 and F16 two-panel tiles of 4, 2 and 1 vectors):   python3 tools/gen-panel-tiles.py
# Regenerate: replace everything from the first "/** Q4_0, 16 input vectors" comment to the end of
# PanelKernels.java with this output and a closing "}".
#
# Each type has its own methods: one method holding two decodings grew past C2's inlining node budget.
# C1 cannot compile the 16-vector tiles (out of virtual registers): PanelKernels keeps C1 off its tiles by a
# compiler directive (see PanelKernels.WIDE).
#
# Column order. Every output lane is one FMA chain over the block's columns in a fixed order, the same in
# every tile, so that results do not depend on the tile (batch invariance):
#   Q4_0: 0, 16, 1, 17, ..., 15, 31 -- one loop step per byte column, its low nibble (column j) then its high
#         nibble (column j + 16). On Ice Lake (2 vCPUs, 512-bit ops on ports 0 and 5 only) one column per
#         step left the loop's scalar work on the vector ports: 16 vectors 55 -> 72-78 GFLOP/s single-thread,
#         8 vectors 50 -> 56-64, batch-16 decode +25%. (On Zen 5 a two-column step had measured no gain at
#         16 vectors.) Two-panel Q4_0 tiles in this order ran past C2's inlining budget (1-2 GFLOP/s), so
#         Q4_0 has none; two one-panel tiles do that work.
#   Q8_0, F16: 0, 1, ..., 31; the 16- and 8-vector tiles take two columns per loop step (Ice Lake: Q8_0
#         8 vectors 45 -> 53-58 GFLOP/s, 16 vectors within the noise; F16 within the noise). Two such steps
#         (four columns) for Q4_0 ran past C2's inlining budget (18 GFLOP/s).
TYPES = {
    "Q4": ("Q4_0", "Q4_BLOCK", "            FloatVector d = scales(seg, o), m8 = d.mul(-8f);", None),
    "Q8": ("Q8_0", "Q8_BLOCK", "            FloatVector d = scales(seg, o);",
           "q8(seg, o + SCALE_BYTES + {j} * ROWS, d)"),
    "F16": ("F16", "F16_BLOCK", None,
            "halves(seg, o + 2L * {j} * ROWS)"),
}


def fmas(L, w, k, acc, xa):
    for i in range(k):
        L.append(f"                {acc[i]} = {w}.fma(FloatVector.broadcast(F, xt[{xa}{' + ' + str(i) if i else ''}]), {acc[i]});")


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
    if t == "Q4":
        L.append("            for (int j = 0; j < 16; j++) {")
        L.append("                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);")
        L.append("                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;")
        fmas(L, "w", k, acc, "xa")
        fmas(L, "v", k, acc, "xb")
    elif k >= 8:
        L.append("            for (int j = 0; j < 32; j += 2) {")
        L.append(f"                FloatVector w = {decode.format(j='j')}, v = {decode.format(j='(j + 1)')};")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;")
        fmas(L, "w", k, acc, "xa")
        fmas(L, "v", k, acc, "xb")
    else:
        L.append("            for (int j = 0; j < 32; j++) {")
        L.append(f"                FloatVector w = {decode.format(j='j')};")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE;")
        fmas(L, "w", k, acc, "xa")
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
        L.append(scales.replace("d = scales(seg, o)", "e = scales(seg, o2)"))
    second = decode.replace("o +", "o2 +").replace(", d)", ", e)")
    L.append("            for (int j = 0; j < 32; j++) {")
    L.append(f"                FloatVector w = {decode.format(j='j')}, v = {second.format(j='j')};")
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


print("\n\n".join([tile(k, t) for t in TYPES for k in (16, 8, 4, 2, 1)] + [pair(k, t) for t in ("Q8", "F16") for k in (4, 2, 1)]))
