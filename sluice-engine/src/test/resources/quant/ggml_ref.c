// Reference oracle for QuantizerTest / DequantTest: ggml's scalar reference code
// (ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref, dequantize_row_q4_K,
// dequantize_row_q6_K; ggml-impl.h: ggml_compute_fp32_to_bf16), transcribed.
// Build and regenerate:  gcc -O0 -o /tmp/ggml_ref ggml_ref.c -lm && /tmp/ggml_ref > ggml-reference.txt
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef _Float16 half;
static uint16_t f2h(float f) { half h = (half) f; uint16_t u; memcpy(&u, &h, 2); return u; }
static float h2f(uint16_t u) { half h; memcpy(&h, &u, 2); return (float) h; }
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static void q8_0(const float *x, uint8_t *y, int k) {
    for (int i = 0; i < k / 32; i++) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = MAX(amax, fabsf(x[i * 32 + j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        uint16_t hd = f2h(d);
        memcpy(y + i * 34, &hd, 2);
        for (int j = 0; j < 32; ++j) ((int8_t *) (y + i * 34 + 2))[j] = roundf(x[i * 32 + j] * id);
    }
}

static void q4_0(const float *x, uint8_t *y, int k) {
    for (int i = 0; i < k / 32; i++) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float v = x[i * 32 + j];
            if (amax < fabsf(v)) { amax = fabsf(v); max = v; }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        uint16_t hd = f2h(d);
        memcpy(y + i * 18, &hd, 2);
        for (int j = 0; j < 16; ++j) {
            const float x0 = x[i * 32 + 0 + j] * id;
            const float x1 = x[i * 32 + 16 + j] * id;
            const uint8_t xi0 = MIN(15, (int8_t) (x0 + 8.5f));
            const uint8_t xi1 = MIN(15, (int8_t) (x1 + 8.5f));
            y[i * 18 + 2 + j] = xi0 | (xi1 << 4);
        }
    }
}

static uint16_t bf16(float s) {
    uint32_t u; memcpy(&u, &s, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (u >> 16) | 64;
    return (u + (0x7fff + ((u >> 16) & 1))) >> 16;
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else { *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4); }
}

static void dq4_K(const uint8_t *blk, float *y) {
    uint16_t hd, hm; memcpy(&hd, blk, 2); memcpy(&hm, blk + 2, 2);
    const float d = h2f(hd), min = h2f(hm);
    const uint8_t *scales = blk + 4, *q = blk + 16;
    int is = 0; uint8_t sc, m;
    for (int j = 0; j < 256; j += 64) {
        get_scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32; is += 2;
    }
}

static void dq6_K(const uint8_t *blk, float *y) {
    const uint8_t *ql = blk, *qh = blk + 128; const int8_t *sc = (const int8_t *) (blk + 192);
    uint16_t hd; memcpy(&hd, blk + 208, 2);
    const float d = h2f(hd);
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            int is = l / 16;
            const int8_t q1 = (int8_t) ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = (int8_t) ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = (int8_t) ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = (int8_t) ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1; y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3; y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128; ql += 64; qh += 32; sc += 8;
    }
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1103515245u + 12345u; return rng >> 8; }

static void hex(const char *tag, const uint8_t *b, int n) {
    printf("%s ", tag);
    for (int i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}
static void floats(const char *tag, const float *f, int n) {
    printf("%s", tag);
    for (int i = 0; i < n; i++) { uint32_t u; memcpy(&u, &f[i], 4); printf(" %08x", u); }
    printf("\n");
}

int main(void) {
    // inputs: a smooth signal, halfway cases for rounding, a zero block, a negative-max block, tiny and huge values
    float x[5 * 32];
    for (int i = 0; i < 32; i++) x[i] = sinf(i * 0.37f) * 3.0f + (i % 5 == 0 ? -4.0f : 0.0f);
    for (int i = 0; i < 32; i++) x[32 + i] = (i - 16) + 0.5f; // with amax = 15.5 -> id = 127/15.5
    x[32 + 31] = 127.0f; for (int i = 0; i < 31; i++) x[32 + i] = (i - 15) + 0.5f; // id = 1: x.5 halfway cases
    for (int i = 0; i < 32; i++) x[64 + i] = 0.0f;
    for (int i = 0; i < 32; i++) x[96 + i] = (i == 7 ? -9.0f : (i * 0.29f) - 4.0f);
    for (int i = 0; i < 32; i++) x[128 + i] = (i % 2 ? 1e-6f : -3e4f) * (1 + i);
    floats("input", x, 160);
    uint8_t q8[5 * 34], q4[5 * 18];
    q8_0(x, q8, 160); q4_0(x, q4, 160);
    hex("q8_0", q8, sizeof q8);
    hex("q4_0", q4, sizeof q4);
    float bf_in[] = {1.0f, -1.0f, 3.14159265f, 1.00390625f, 1.01171875f, 1.0f + 1.0f / 256 + 1.0f / 65536, 65504.0f, 3.4e38f, -0.0f, 1e-40f, INFINITY, NAN};
    int nb = sizeof bf_in / sizeof bf_in[0];
    floats("bf16_input", bf_in, nb);
    printf("bf16");
    for (int i = 0; i < nb; i++) printf(" %04x", bf16(bf_in[i]));
    printf("\n");
    printf("f16");
    for (int i = 0; i < nb; i++) printf(" %04x", f2h(bf_in[i]));
    printf("\n");
    // k-quant blocks from random bytes (scales fields kept finite and small)
    uint8_t b4[144], b6[210];
    for (int i = 0; i < 144; i++) b4[i] = next() & 0xFF;
    uint16_t d = f2h(0.0123f), dm = f2h(0.0045f); memcpy(b4, &d, 2); memcpy(b4 + 2, &dm, 2);
    for (int i = 0; i < 210; i++) b6[i] = next() & 0xFF;
    d = f2h(-0.0031f); memcpy(b6 + 208, &d, 2);
    float y[256];
    hex("q4_K_block", b4, 144); dq4_K(b4, y); floats("q4_K_out", y, 256);
    hex("q6_K_block", b6, 210); dq6_K(b6, y); floats("q6_K_out", y, 256);
    return 0;
}
