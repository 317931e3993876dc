package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a SentencePiece {@code tokenizer.model} (a protobuf {@code ModelProto}): the pieces
 * with their scores and types, the trainer's model type and special ids, and the normalizer's
 * {@code add_dummy_prefix}. Only the fields llama.cpp's converter uses are decoded; the rest is
 * skipped by wire type, so files from any SentencePiece version load.
 */
record SentencePieceModel(List<String> pieces, float[] scores, int[] types, int modelType, boolean addDummyPrefix,
                          int unkId, int bosId, int eosId, int padId) {
    static final int MODEL_UNIGRAM = 1, MODEL_BPE = 2;

    static SentencePieceModel read(Path file) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw ModelFormatException.of(file, "cannot read SentencePiece model: " + e.getMessage());
        }
        try {
            return parse(data);
        } catch (RuntimeException e) {
            throw ModelFormatException.of(file, "not a SentencePiece model (protobuf ModelProto): " + e.getMessage());
        }
    }

    static SentencePieceModel parse(byte[] data) {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        int[] trainer = {MODEL_UNIGRAM, 0, 1, 2, -1}; // model_type, unk, bos, eos, pad (SentencePiece defaults)
        boolean[] dummy = {true};
        Reader r = new Reader(data, 0, data.length);
        while (r.more()) {
            long tag = r.varint();
            int field = (int) (tag >>> 3), wire = (int) (tag & 7);
            if (field == 1 && wire == 2) {
                Reader p = r.sub();
                String piece = "";
                float score = 0f;
                int type = TokenType.NORMAL;
                while (p.more()) {
                    long t = p.varint();
                    int f = (int) (t >>> 3), w = (int) (t & 7);
                    if (f == 1 && w == 2) piece = p.string();
                    else if (f == 2 && w == 5) score = p.float32();
                    else if (f == 3 && w == 0) type = (int) p.varint();
                    else p.skip(w);
                }
                pieces.add(piece);
                scores.add(score);
                types.add(type);
            } else if (field == 2 && wire == 2) {
                Reader t = r.sub();
                while (t.more()) {
                    long tg = t.varint();
                    int f = (int) (tg >>> 3), w = (int) (tg & 7);
                    if (w == 0 && (f == 3 || (f >= 40 && f <= 43))) {
                        int v = (int) t.varint();
                        switch (f) {
                            case 3 -> trainer[0] = v;
                            case 40 -> trainer[1] = v;
                            case 41 -> trainer[2] = v;
                            case 42 -> trainer[3] = v;
                            default -> trainer[4] = v;
                        }
                    } else {
                        t.skip(w);
                    }
                }
            } else if (field == 3 && wire == 2) {
                Reader n = r.sub();
                while (n.more()) {
                    long tg = n.varint();
                    int f = (int) (tg >>> 3), w = (int) (tg & 7);
                    if (f == 3 && w == 0) dummy[0] = n.varint() != 0;
                    else n.skip(w);
                }
            } else {
                r.skip(wire);
            }
        }
        if (pieces.isEmpty()) throw new IllegalArgumentException("no pieces");
        float[] sc = new float[scores.size()];
        int[] ty = new int[types.size()];
        for (int i = 0; i < sc.length; i++) {
            sc[i] = scores.get(i);
            ty[i] = types.get(i);
        }
        return new SentencePieceModel(pieces, sc, ty, trainer[0], dummy[0], trainer[1], trainer[2], trainer[3], trainer[4]);
    }

    /** Protobuf wire-format reader over {@code [pos, end)}. */
    private static final class Reader {
        private final byte[] b;
        private int pos;
        private final int end;

        Reader(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        boolean more() { return pos < end; }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) throw new IllegalArgumentException("truncated varint at byte " + pos);
                int x = b[pos++] & 0xFF;
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) return v;
            }
            throw new IllegalArgumentException("varint too long at byte " + pos);
        }

        Reader sub() {
            long len = varint();
            if (len < 0 || len > end - pos) throw new IllegalArgumentException("length " + len + " past the end at byte " + pos);
            Reader r = new Reader(b, pos, pos + (int) len);
            pos += (int) len;
            return r;
        }

        String string() {
            Reader s = sub();
            return new String(b, s.pos, s.end - s.pos, StandardCharsets.UTF_8);
        }

        float float32() {
            if (end - pos < 4) throw new IllegalArgumentException("truncated float at byte " + pos);
            float f = ByteBuffer.wrap(b, pos, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
            pos += 4;
            return f;
        }

        void skip(int wire) {
            switch (wire) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> sub();
                case 5 -> advance(4);
                default -> throw new IllegalArgumentException("unsupported wire type " + wire + " at byte " + pos);
            }
        }

        private void advance(int n) {
            if (end - pos < n) throw new IllegalArgumentException("truncated at byte " + pos);
            pos += n;
        }
    }
}
