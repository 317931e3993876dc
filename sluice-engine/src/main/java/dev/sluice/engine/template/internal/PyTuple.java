package dev.sluice.engine.template.internal;

import java.util.ArrayList;
import java.util.Collection;

/** A Python tuple (e.g. a {@code dict.items()} pair): a list that prints as {@code ('k', 1)}. */
public final class PyTuple extends ArrayList<Object> {
    private static final long serialVersionUID = 1L;

    public PyTuple(Collection<?> items) {
        super(items);
    }
}
