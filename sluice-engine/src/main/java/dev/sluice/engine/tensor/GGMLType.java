package dev.sluice.engine.tensor;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Tensor element types, numbered as in ggml ({@code enum ggml_type}). A quantized type stores
 * {@link #blockSize} elements in {@link #typeSize} bytes.
 */
public enum GGMLType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 2 + 16),
    Q4_1(3, 32, 2 + 2 + 16),
    Q5_0(6, 32, 2 + 4 + 16),
    Q5_1(7, 32, 2 + 2 + 4 + 16),
    Q8_0(8, 32, 2 + 32),
    Q8_1(9, 32, 4 + 4 + 32),
    Q2_K(10, 256, 256 / 16 + 256 / 4 + 2 + 2),
    Q3_K(11, 256, 256 / 8 + 256 / 4 + 12 + 2),
    Q4_K(12, 256, 2 + 2 + 12 + 256 / 2),
    Q5_K(13, 256, 2 + 2 + 12 + 256 / 8 + 256 / 2),
    Q6_K(14, 256, 256 / 2 + 256 / 4 + 256 / 16 + 2),
    Q8_K(15, 256, 4 + 256 + 2 * 256 / 16),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    BF16(30, 1, 2);

    /** Types whose tensors Sluice can compute with (dequantize and dot). */
    public static final java.util.Set<GGMLType> SUPPORTED =
            java.util.EnumSet.of(F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K);

    public final int id;
    public final int blockSize;
    public final int typeSize;

    GGMLType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    private static final GGMLType[] BY_ID = new GGMLType[64];

    static {
        for (GGMLType t : values()) BY_ID[t.id] = t;
    }

    /** @return the type with ggml id {@code id}, or null when unknown. */
    public static GGMLType fromId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    public boolean isSupported() {
        return SUPPORTED.contains(this);
    }

    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Bytes taken by {@code n} elements; {@code n} must be a multiple of the block size. */
    public long byteSize(long n) {
        if (n % blockSize != 0) {
            throw new IllegalArgumentException(n + " elements is not a multiple of " + name() + " block size " + blockSize);
        }
        return n / blockSize * typeSize;
    }

    public static String supportedList() {
        return Arrays.stream(values()).filter(GGMLType::isSupported).map(Enum::name).collect(Collectors.joining(", "));
    }
}
