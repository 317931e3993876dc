package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.util.HasObjectTruthValue;

/**
 * Python's {@code None} as a template value, so that it stays apart from Jinjava's null, which
 * stands for jinja2's {@code Undefined}: None prints as {@code None}, is defined, is false, and is
 * the value of the {@code none} literal. JSON nulls in messages, tools and extra variables become
 * this, as Python's json does.
 */
public final class PyNone implements HasObjectTruthValue {
    public static final PyNone INSTANCE = new PyNone();

    private PyNone() {}

    /** For the {@code none} literal. */
    public static PyNone none() {
        return INSTANCE;
    }

    @Override
    public boolean getObjectTruthValue() {
        return false;
    }

    @Override
    public String toString() {
        return "None";
    }
}
