# Writes sluice-engine's PanelTiles.java, the register tiles of PanelKernels (Q4_0, Q8_0 and F16), for two
# vector widths:   python3 tools/gen-panel-tiles.py
#   - 512-bit (16 float lanes, one lane per row of a 16-row panel): 16, 8, 4, 2 and 1 input vectors, and for
#     Q8_0 and F16 two-panel tiles of 4, 2 and 1 vectors;
#   - 256-bit (8 float lanes, AVX2: half a panel per vector, methods ending in H): 8, 4, 2 and 1 input vectors on
#     one half (rows 0-7 or 8-15, from the argument hr), and tiles of 4, 2 and 1 vectors over both halves at
#     once. 16 vector registers: 8 accumulators, the decoded weights, the scales and a broadcast.
# and, for both widths, the single-vector kernels (dot*), the panel decoding into floats (decode*) and the float
# tiles on decoded panels (tileF*: 16/8/4/2/1 vectors at 512 bits, 4/2/1 over both halves at 256 bits).
#
# Each type has its own methods: one method holding two decodings grew past C2's inlining node budget.
# C1 cannot compile the 16-vector tiles (out of virtual registers): PanelKernels keeps C1 off the tiles by a
# compiler directive (see PanelKernels.WIDE).
#
# Column order. Every output lane is one FMA chain over the block's columns in a fixed order, the same in
# every tile of a width, so that results do not depend on the tile (batch invariance):
#   Q4_0: 0, 16, 1, 17, ..., 15, 31 -- one loop step per byte column, its low nibble (column j) then its high
#         nibble (column j + 16). On Ice Lake (2 vCPUs, 512-bit ops on ports 0 and 5 only) one column per
#         step left the loop's scalar work on the vector ports: 16 vectors 55 -> 72-78 GFLOP/s single-thread,
#         8 vectors 50 -> 56-64, batch-16 decode +25%. (On Zen 5 a two-column step had measured no gain at
#         16 vectors.) Two-panel Q4_0 tiles in this order ran past C2's inlining budget (1-2 GFLOP/s), so
#         Q4_0 has none at 512 bits; two one-panel tiles do that work.
#   Q8_0, F16: 0, 1, ..., 31; the 16- and 8-vector tiles take two columns per loop step (Ice Lake: Q8_0
#         8 vectors 45 -> 53-58 GFLOP/s, 16 vectors within the noise; F16 within the noise). Two such steps
#         (four columns) for Q4_0 ran past C2's inlining budget (18 GFLOP/s).
# Tried and dropped for Q4_0 at batch 16 on AVX2 (one 16-vector block, where the separate decoding pass of the
# decoded panels costs more than it saves): decoding the panel inside the block's first tile, which stores the
# floats while it runs the first vectors. With 2 vectors over both halves it ran past C2's inlining node
# cutoff (28 GFLOP/s single-thread); with 1 vector, 64-67 against the register tiles' 71.
# A lane's chain is the same at both widths too (the same decoding, the same order), so the two widths give
# the same bits.

import os
import sys

TYPES = {
    # ggml name, block bytes, scales line (with {s}: the scales helper and {h}: the half's scale offset),
    # decode of column {j} (None: Q4_0's nibble pair), bytes per weight
    "Q4": ("Q4_0", "Q4_BLOCK", "            FloatVector d = scales{s}(seg, o{h2}), m8 = d.mul(-8f);", None, 1),
    "Q8": ("Q8_0", "Q8_BLOCK", "            FloatVector d = scales{s}(seg, o{h2});",
           "q8{s}(seg, o + SCALE_BYTES + {j} * ROWS{h1}, d)", 1),
    "F16": ("F16", "F16_BLOCK", None, "halves{s}(seg, o + 2L * {j} * ROWS{h2})", 2),
}

# width: suffix, species, max tile, whether tiles take hr (the half's first row)
WIDTHS = {
    16: ("", "F", (16, 8, 4, 2, 1)),
    8: ("H", "FH", (8, 4, 2, 1)),
}


def declare(L, accs, sp):
    """The accumulators, zero, four per line (the first four zeroed, the rest copies of a0)."""
    L.append("        FloatVector " + ", ".join(f"{v} = FloatVector.zero({sp})" for v in accs[:4]) + ";")
    for s0 in range(4, len(accs), 4):
        L.append("        FloatVector " + ", ".join(f"{v} = a0" for v in accs[s0:s0+4]) + ";")


def fmas(L, w, k, acc, xa, sp):
    for i in range(k):
        L.append(f"                {acc[i]} = {w}.fma(FloatVector.broadcast({sp}, xt[{xa}{' + ' + str(i) if i else ''}]), {acc[i]});")


def offsets(width, name="hr"):
    """The half's offsets: h1 in quant bytes (one per row), h2 in half-precision bytes (two per row)."""
    if width == 16:
        return "", ""
    return f" + {name}", f" + 2 * {name}"


def tile(k, t, width):
    ggml, block, scales, decode, _ = TYPES[t]
    suffix, sp, _ = WIDTHS[width]
    h1, h2 = offsets(width)
    fmt = dict(s=suffix, h1=h1, h2=h2)
    acc = [f"a{i}" for i in range(k)]
    L = []
    half = "" if width == 16 else " (rows hr to hr + 7 of the panel)"
    hr = "" if width == 16 else ", int hr"
    L.append(f"    /** {ggml}, {k} input vector{'s' if k > 1 else ''}{half}; see {{@link PanelKernels#gemm}}. */")
    L.append(f"    static void tile{k}{t}{suffix}(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid{hr}) {{")
    declare(L, acc, sp)
    L.append("        for (int b = 0; b < nb; b++) {")
    L.append(f"            long o = off + (long) b * {block};")
    if scales:
        L.append(scales.format(**fmt))
    if t == "Q4":
        L.append("            for (int j = 0; j < 16; j++) {")
        L.append(f"                IntVector q = nibbles{suffix}(seg, o + SCALE_BYTES + j * ROWS{h1});")
        L.append("                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;")
        fmas(L, "w", k, acc, "xa", sp)
        fmas(L, "v", k, acc, "xb", sp)
    elif k >= 8:
        L.append("            for (int j = 0; j < 32; j += 2) {")
        L.append(f"                FloatVector w = {decode.format(j='j', **fmt)}, v = {decode.format(j='(j + 1)', **fmt)};")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;")
        fmas(L, "w", k, acc, "xa", sp)
        fmas(L, "v", k, acc, "xb", sp)
    else:
        L.append("            for (int j = 0; j < 32; j++) {")
        L.append(f"                FloatVector w = {decode.format(j='j', **fmt)};")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE;")
        fmas(L, "w", k, acc, "xa", sp)
    L.append("            }")
    L.append("        }")
    L.append(f"        VectorMask<Float> m = {sp}.indexInRange(0, valid);")
    for i in range(k):
        L.append(f"        {acc[i]}.intoArray(out, oOff{' + ' + str(i) + ' * rows' if i else ''}, m);")
    L.append("    }")
    return "\n".join(L)


def pair(k, t, width):
    """512 bits: two consecutive panels; 256 bits: a panel's two halves. Against k vectors: 2k independent FMA
    chains (k accumulators alone are latency-bound below 8), each lane's chain the same as in the one-panel
    (one-half) tile."""
    ggml, block, scales, decode, _ = TYPES[t]
    suffix, sp, _ = WIDTHS[width]
    a = [f"a{i}" for i in range(k)]
    b = [f"b{i}" for i in range(k)]
    L = []
    if width == 16:
        what, shift = "panels at {@code off} and the next one", "ROWS"
        f1 = dict(s=suffix, h1="", h2="")
        f2 = dict(s=suffix, h1="", h2="")
    else:
        what, shift = "both halves of the panel at {@code off}", "8"
        f1 = dict(s=suffix, h1="", h2="")
        f2 = dict(s=suffix, h1=" + 8", h2=" + 16")
    L.append(f"    /** {ggml}, {what}, {k} input vector{'s' if k > 1 else ''}; see {{@link PanelKernels#gemm}}. */")
    L.append(f"    static void tile{k}x2{t}{suffix}(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {{")
    declare(L, a + b, sp)
    if width == 16:
        L.append(f"        long off2 = off + (long) nb * {block};")
    L.append("        for (int b = 0; b < nb; b++) {")
    if width == 16:
        L.append(f"            long o = off + (long) b * {block}, o2 = off2 + (long) b * {block};")
    else:
        L.append(f"            long o = off + (long) b * {block};")
    if scales:
        L.append(scales.format(**f1))
        second_scales = scales.format(**f2).replace("FloatVector d =", "FloatVector e =").replace("m8 = d.mul", "n8 = e.mul")
        if width == 16:
            second_scales = second_scales.replace("(seg, o)", "(seg, o2)")
        L.append(second_scales)
    if t == "Q4":
        L.append("            for (int j = 0; j < 16; j++) {")
        if width == 16:
            L.append(f"                IntVector q = nibbles{suffix}(seg, o + SCALE_BYTES + j * ROWS), r = nibbles{suffix}(seg, o2 + SCALE_BYTES + j * ROWS);")
        else:
            L.append(f"                IntVector q = nibbles{suffix}(seg, o + SCALE_BYTES + j * ROWS), r = nibbles{suffix}(seg, o + SCALE_BYTES + j * ROWS + 8);")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;")
        L.append("                FloatVector w = lowNibbles(q, d, m8), v = lowNibbles(r, e, n8);")
        for i in range(k):
            L.append(f"                FloatVector x{i} = FloatVector.broadcast({sp}, xt[xa{' + ' + str(i) if i else ''}]);")
            L.append(f"                {a[i]} = w.fma(x{i}, {a[i]});")
            L.append(f"                {b[i]} = v.fma(x{i}, {b[i]});")
        L.append("                w = highNibbles(q, d, m8);")
        L.append("                v = highNibbles(r, e, n8);")
        for i in range(k):
            L.append(f"                FloatVector y{i} = FloatVector.broadcast({sp}, xt[xb{' + ' + str(i) if i else ''}]);")
            L.append(f"                {a[i]} = w.fma(y{i}, {a[i]});")
            L.append(f"                {b[i]} = v.fma(y{i}, {b[i]});")
    else:
        second = decode.format(j='j', **f2).replace(", d)", ", e)")
        if width == 16:
            second = second.replace("o +", "o2 +")
        L.append("            for (int j = 0; j < 32; j++) {")
        L.append(f"                FloatVector w = {decode.format(j='j', **f1)}, v = {second};")
        L.append("                int xa = xOff + (b * 32 + j) * X_STRIDE;")
        for i in range(k):
            L.append(f"                FloatVector x{i} = FloatVector.broadcast({sp}, xt[xa{' + ' + str(i) if i else ''}]);")
            L.append(f"                {a[i]} = w.fma(x{i}, {a[i]});")
            L.append(f"                {b[i]} = v.fma(x{i}, {b[i]});")
    L.append("            }")
    L.append("        }")
    L.append(f"        VectorMask<Float> m = {sp}.indexInRange(0, valid), m2 = {sp}.indexInRange(0, valid2);")
    for i in range(k):
        L.append(f"        {a[i]}.intoArray(out, oOff{' + ' + str(i) + ' * rows' if i else ''}, m);")
        L.append(f"        {b[i]}.intoArray(out, oOff + {shift}{' + ' + str(i) + ' * rows' if i else ''}, m2);")
    L.append("    }")
    return "\n".join(L)


def dot(t, width):
    """The single-vector matmul (n = 1, decode) of one panel (512 bits) or one half (256 bits): four chains (column
    j on chain j % 4; Q4_0: low nibbles of even byte columns, their high nibbles, then the odd ones') summed
    unscaled within a block, then scaled, as ggml's dot products do; Q4_0's -8 is -8 x the block's input sum
    (xs8). F16: four chains over all columns. The same chains per lane at both widths."""
    ggml, block, _, _, _ = TYPES[t]
    suffix, sp, _ = WIDTHS[width]
    h1, h2 = offsets(width)
    hr = "" if width == 16 else ", int hr"
    xs = ", float[] xs8" if t == "Q4" else ""
    L = []
    L.append(f"    /** {ggml}: {'a panel' if width == 16 else 'half a panel (rows hr to hr + 7)'} against one vector {{@code x}}, to {{@code out[r ..]}} (its first {{@code valid}} rows); see {{@link PanelKernels#matmul}}. */")
    L.append(f"    static void dot{t}{suffix}(MemorySegment seg, long off, int nb, float[] x{xs}, float[] out, int r, int valid{hr}) {{")
    if t == "F16" and width == 8:
        # a 256-bit load is a whole column (16 halves): even rows in the low half of each int lane, odd rows in the
        # high half, decoded by shifts alone (a widening S2I conversion per 8 halves, on the shuffle port, made
        # this kernel a third slower than the row kernel); outputs interleaved once at the end
        L[-2] = "    /** F16: a panel against one vector {@code x}, even and odd rows in two 8-lane accumulator sets, to {@code out[r ..]} (its first {@code valid} rows); see {@link PanelKernels#matmul}. */"
        L[-1] = "    static void dotF16H(MemorySegment seg, long off, int nb, float[] x, float[] out, int r, int valid) {"
        L.append("        FloatVector s0 = FloatVector.zero(FH), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;")
        # two columns per step (four hit C2's inlining node cutoff), chains 0-1 and 2-3 swapped after each step:
        # column c still on chain c % 4, as at 512 bits (32-column blocks: an even number of steps)
        L.append("        for (int c = 0; c < nb * 32; c += 2) {")
        L.append("            long o = off + 2L * ROWS * c;")
        for i in range(2):
            L.append(f"            IntVector h{i} = IntVector.fromMemorySegment(IH, seg, o{' + ' + str(2 * i) + ' * ROWS' if i else ''}, LE);")
            L.append(f"            FloatVector x{i} = FloatVector.broadcast(FH, x[c{' + ' + str(i) if i else ''}]);")
            L.append(f"            s{i} = VectorKernels.lowHalfToFloat(h{i}, F16_PANEL_MAGIC).fma(x{i}, s{i});")
            L.append(f"            t{i} = VectorKernels.highHalfToFloat(h{i}, F16_PANEL_MAGIC).fma(x{i}, t{i});")
        L.append("            FloatVector u = s0; s0 = s2; s2 = u; u = s1; s1 = s3; s3 = u;")
        L.append("            u = t0; t0 = t2; t2 = u; u = t1; t1 = t3; t3 = u;")
        L.append("        }")
        L.append("        FloatVector even = s0.add(s1).add(s2.add(s3)), odd = t0.add(t1).add(t2.add(t3));")
        L.append("        even.rearrange(INTERLEAVE_LOW, odd).intoArray(out, r, FH.indexInRange(0, valid));")
        L.append("        if (valid > 8) even.rearrange(INTERLEAVE_HIGH, odd).intoArray(out, r + 8, FH.indexInRange(0, valid - 8));")
        L.append("    }")
        return "\n".join(L)
    if t == "F16":
        L.append(f"        FloatVector s0 = FloatVector.zero({sp}), s1 = s0, s2 = s0, s3 = s0;")
        L.append("        for (int c = 0; c < nb * 32; c += 4) {")
        L.append(f"            long o = off + 2L * ROWS * c{h2};")
        for i in range(4):
            L.append(f"            s{i} = halves{suffix}(seg, o{' + ' + str(2 * i) + ' * ROWS' if i else ''}).fma(FloatVector.broadcast({sp}, x[c{' + ' + str(i) if i else ''}]), s{i});")
        L.append("        }")
        L.append("        FloatVector acc = s0.add(s1).add(s2.add(s3));")
    else:
        L.append(f"        FloatVector acc = FloatVector.zero({sp});")
        L.append("        for (int b = 0; b < nb; b++) {")
        L.append(f"            long o = off + (long) b * {block} + SCALE_BYTES;")
        L.append(f"            FloatVector s0 = FloatVector.zero({sp}), s1 = s0, s2 = s0, s3 = s0;")
        L.append("            int xb = b * 32;")
        if t == "Q8":
            L.append("            for (int j = 0; j < 32; j += 4) {")
            for i in range(4):
                L.append(f"                s{i} = quants{suffix}(seg, o + (long) {'(j + ' + str(i) + ')' if i else 'j'} * ROWS{h1}).fma(FloatVector.broadcast({sp}, x[xb + j{' + ' + str(i) if i else ''}]), s{i});")
            L.append("            }")
            L.append(f"            acc = s0.add(s1).add(s2.add(s3)).fma(scales{suffix}(seg, o - SCALE_BYTES{h2}), acc);")
        else:
            L.append("            for (int j = 0; j < 16; j += 2) {")
            L.append(f"                IntVector q0 = nibbles{suffix}(seg, o + (long) j * ROWS{h1}), q1 = nibbles{suffix}(seg, o + (long) (j + 1) * ROWS{h1});")
            L.append(f"                s0 = toFloat(q0.and(0x0F)).fma(FloatVector.broadcast({sp}, x[xb + j]), s0);")
            L.append(f"                s1 = toFloat(q0.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast({sp}, x[xb + j + 16]), s1);")
            L.append(f"                s2 = toFloat(q1.and(0x0F)).fma(FloatVector.broadcast({sp}, x[xb + j + 1]), s2);")
            L.append(f"                s3 = toFloat(q1.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast({sp}, x[xb + j + 17]), s3);")
            L.append("            }")
            L.append(f"            acc = s0.add(s1).add(s2.add(s3)).sub(xs8[b]).fma(scales{suffix}(seg, o - SCALE_BYTES{h2}), acc);")
        L.append("        }")
    L.append(f"        acc.intoArray(out, r, {sp}.indexInRange(0, valid));")
    L.append("    }")
    return "\n".join(L)


def decode(t, width):
    """A panel's weights decoded once into floats, w[c * 16 + row] for column c (natural order), by the same
    operations as the register tiles' decoding (so the same values); at 256 bits half a column per vector."""
    ggml, block, _, _, _ = TYPES[t]
    suffix = WIDTHS[width][0]
    h1, h2 = offsets(width)
    L = []
    L.append(f"    /** {ggml}: the panel at {{@code off}} decoded into {{@code w[c * 16 + row]}} (column {{@code c}}), the values the tiles decode; see {{@link PanelKernels#gemm}}. */")
    L.append(f"    static void decode{t}{suffix}(MemorySegment seg, long off, int nb, float[] w) {{")
    L.append("        for (int b = 0; b < nb; b++) {")
    L.append(f"            long o = off + (long) b * {block};")
    L.append("            int c0 = b * 32 * ROWS;")
    ind = "            "
    if width == 8:
        L.append("            for (int hr = 0; hr < ROWS; hr += 8) {")
        ind = "                "
    hr = " + hr" if width == 8 else ""
    if t == "Q4":
        L.append(f"{ind}FloatVector d = scales{suffix}(seg, o{h2}), m8 = d.mul(-8f);")
        L.append(f"{ind}for (int j = 0; j < 16; j++) {{")
        L.append(f"{ind}    IntVector q = nibbles{suffix}(seg, o + SCALE_BYTES + j * ROWS{h1});")
        L.append(f"{ind}    lowNibbles(q, d, m8).intoArray(w, c0 + j * ROWS{hr});")
        L.append(f"{ind}    highNibbles(q, d, m8).intoArray(w, c0 + (j + 16) * ROWS{hr});")
        L.append(f"{ind}}}")
    elif t == "Q8":
        L.append(f"{ind}FloatVector d = scales{suffix}(seg, o{h2});")
        L.append(f"{ind}for (int j = 0; j < 32; j++) q8{suffix}(seg, o + SCALE_BYTES + j * ROWS{h1}, d).intoArray(w, c0 + j * ROWS{hr});")
    else:
        L.append(f"{ind}for (int j = 0; j < 32; j++) halves{suffix}(seg, o + 2L * j * ROWS{h2}).intoArray(w, c0 + j * ROWS{hr});")
    if width == 8:
        L.append("            }")
    L.append("        }")
    L.append("    }")
    return "\n".join(L)


def ftile(k, q4order, width):
    """16 rows x k input vectors from a decoded panel (decode*): per column one weight load (256 bits: two, one per
    half, with 2k accumulators) and k broadcasts; the columns in Q4_0's order (0, 16, 1, 17, ...) or in order."""
    suffix, sp, _ = WIDTHS[width]
    name = f"tileF{k}{'Q4' if q4order else ''}{suffix}"
    a = [f"a{i}" for i in range(k)]
    b = [f"b{i}" for i in range(k)] if width == 8 else []
    L = []
    L.append(f"    /** A decoded panel (see {{@code decode*}}), {k} input vector{'s' if k > 1 else ''}, columns {'in Q4_0 order' if q4order else 'in order'}; see {{@link PanelKernels#gemm}}. */")
    L.append(f"    static void {name}(float[] w, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {{")
    declare(L, a + b, sp)
    def column(ind, c, sfx=""):
        if width == 8:
            L.append(f"{ind}FloatVector w0{sfx} = FloatVector.fromArray(FH, w, {c} * ROWS), w1{sfx} = FloatVector.fromArray(FH, w, {c} * ROWS + 8);")
        else:
            L.append(f"{ind}FloatVector w0{sfx} = FloatVector.fromArray(F, w, {c} * ROWS);")
        L.append(f"{ind}int xa{sfx} = xOff + {c} * X_STRIDE;")
        for i in range(k):
            L.append(f"{ind}FloatVector x{i}{sfx} = FloatVector.broadcast({sp}, xt[xa{sfx}{' + ' + str(i) if i else ''}]);")
            L.append(f"{ind}{a[i]} = w0{sfx}.fma(x{i}{sfx}, {a[i]});")
            if width == 8:
                L.append(f"{ind}{b[i]} = w1{sfx}.fma(x{i}{sfx}, {b[i]});")
    if q4order:
        # a loop step per byte column: column j, then j + 16 (indexes linear in the loop variables, so no
        # per-access range checks: one loop with a computed column index ran at 66-70 GFLOP/s against 85-93)
        L.append("        for (int b = 0; b < nb * 32; b += 32) {")
        L.append("            for (int j = b; j < b + 16; j++) {")
        column("                ", "j")
        column("                ", "(j + 16)", "h")
        L.append("            }")
        L.append("        }")
    else:
        L.append("        for (int c = 0; c < nb * 32; c++) {")
        column("            ", "c")
        L.append("        }")
    if width == 8:
        L.append("        VectorMask<Float> m = FH.indexInRange(0, valid), m2 = FH.indexInRange(0, valid - 8);")
    else:
        L.append("        VectorMask<Float> m = F.indexInRange(0, valid);")
    for i in range(k):
        L.append(f"        {a[i]}.intoArray(out, oOff{' + ' + str(i) + ' * rows' if i else ''}, m);")
        if width == 8:
            L.append(f"        {b[i]}.intoArray(out, oOff + 8{' + ' + str(i) + ' * rows' if i else ''}, m2);")
    L.append("    }")
    return "\n".join(L)


DECODER_TEMPLATE = '''    /** %(n)s rows' scales (%(what)s panel block; {@code o} at its first scale). */
    static FloatVector scales%(s)s(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(%(S)s, seg, o, LE).convertShape(VectorOperators.S2I, %(I)s, 0));
    }

    /** %(n)s halves (%(what)s column of an F16 panel) as floats. */
    static FloatVector halves%(s)s(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(%(S)s, seg, o, LE).convertShape(VectorOperators.S2I, %(I)s, 0), F16_PANEL_MAGIC);
    }

    /** %(n)s Q8_0 quants (%(what)s column of a panel) as floats. */
    static FloatVector quants%(s)s(MemorySegment seg, long o) {
        return toFloat((IntVector) ByteVector.fromMemorySegment(%(B)s, seg, o, LE).convertShape(VectorOperators.B2I, %(I)s, 0));
    }

    /** %(n)s Q8_0 weights (%(what)s column of a panel), scaled. */
    static FloatVector q8%(s)s(MemorySegment seg, long o, FloatVector d) {
        return quants%(s)s(seg, o).mul(d);
    }

    /** %(n)s Q4_0 bytes (%(what)s byte column of a panel: two columns), zero-extended. */
    static IntVector nibbles%(s)s(MemorySegment seg, long o) {
        return (IntVector) ByteVector.fromMemorySegment(%(B)s, seg, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, %(I)s, 0);
    }
'''


def decoders(width):
    """The loads and widenings of one panel column (512 bits) or half column (256 bits)."""
    if width == 16:
        return DECODER_TEMPLATE % dict(n=16, what="one", s="", S="S16", I="I", B="B16")
    return DECODER_TEMPLATE % dict(n=8, what="half a", s="H", S="SH", I="IH", B="BH")


HEADER = '''package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.Panels;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.sluice.engine.kernels.PanelKernels.F16_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.Q4_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.Q8_BLOCK;
import static dev.sluice.engine.kernels.PanelKernels.X_STRIDE;
import static dev.sluice.engine.tensor.Panels.ROWS;
import static dev.sluice.engine.tensor.Panels.SCALE_BYTES;

/**
 * The kernels of {@link PanelKernels}: register tiles, single-vector dot products ({@code dot*}), panel
 * decoding into floats ({@code decode*}) and float tiles on decoded panels ({@code tileF*}), with their
 * decoding helpers. <b>Generated</b> by
 * {@code tools/gen-panel-tiles.py} (the column orders and the variants measured are recorded there); edit
 * the script, not this file.
 *
 * <p>512-bit tiles (no suffix): a 16-lane vector per column of a 16-row panel. 256-bit tiles (suffix
 * {@code H}, for AVX2): an 8-lane vector per column of half a panel, rows {@code hr} to {@code hr + 7}; the
 * pair tiles {@code tile<k>x2<type>H} take both halves at once. Every lane is one FMA chain over the
 * columns in its type's fixed order, the same in every tile and at both widths.
 */
final class PanelTiles {
    private PanelTiles() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Float> FH = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IH = IntVector.SPECIES_256;
    private static final VectorSpecies<Short> SH = ShortVector.SPECIES_128;
    private static final VectorSpecies<Byte> BH = ByteVector.SPECIES_64;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Lanes 0-3 of two 8-lane vectors interleaved (a0 b0 a1 b1 ...); negative indexes take the second vector's lanes. */
    private static final VectorShuffle<Float> INTERLEAVE_LOW = VectorShuffle.fromValues(FH, 0, -8, 1, -7, 2, -6, 3, -5);
    /** Lanes 4-7 of two 8-lane vectors interleaved. */
    private static final VectorShuffle<Float> INTERLEAVE_HIGH = VectorShuffle.fromValues(FH, 4, -4, 5, -3, 6, -2, 7, -1);

    /**
     * F16 panels hold each weight times {@code 2^F16_SHIFT} ({@link Panels#F16_SHIFT}), so that no stored half is
     * subnormal: their decoding multiplies by {@code 2^(112 - F16_SHIFT)} and never sees a float denormal,
     * which costs a microcode assist per instruction on x86 (a subnormal in 0.24% of N(0, 0.02) weights made
     * the F16 matmuls up to 2x slower).
     */
    static final float F16_PANEL_MAGIC = Math.scalb(1f, 112 - Panels.F16_SHIFT);

{decoders}
    /** The low nibbles' weights: {@code (q - 8) d} as one rounding, {@code fma(q, d, -8d)}. */
    static FloatVector lowNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.and(0x0F)).fma(d, m8);
    }

    static FloatVector highNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.lanewise(VectorOperators.LSHR, 4)).fma(d, m8);
    }

    static FloatVector toFloat(IntVector q) {
        return (FloatVector) q.convert(VectorOperators.I2F, 0);
    }
'''


FLOAT_TILES = {16: (16, 8, 4, 2, 1), 8: (4, 2, 1)}


def main():
    parts = []
    for width in (16, 8):
        for t in TYPES:
            parts.append(dot(t, width))
        for t in TYPES:
            for k in WIDTHS[width][2]:
                parts.append(tile(k, t, width))
        for t in ("Q8", "F16"):
            for k in (4, 2, 1):
                parts.append(pair(k, t, width))
    for width in (16, 8):
        for t in TYPES:
            parts.append(decode(t, width))
        for q4order in (True, False):
            for k in FLOAT_TILES[width]:
                parts.append(ftile(k, q4order, width))
    text = HEADER.replace("{decoders}", decoders(16) + "\n" + decoders(8)) + "\n" + "\n\n".join(parts) + "\n}\n"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "sluice-engine/src/main/java/dev/sluice/engine/kernels/PanelTiles.java")
    if len(sys.argv) > 1 and sys.argv[1] == "--stdout":
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {path}")


main()
