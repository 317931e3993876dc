package dev.sluice.engine.gguf;

/** GGUF metadata value types, numbered as in the GGUF specification. */
public enum GGUFValueType {
    UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64;

    static GGUFValueType fromId(int id) {
        GGUFValueType[] all = values();
        return id >= 0 && id < all.length ? all[id] : null;
    }
}
