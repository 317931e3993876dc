package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;

/**
 * A Jinjava interpreter that prints values as Python's {@code str()} does ({@code True},
 * {@code ['a', 'b']}, {@code {'k': 1}}, {@code 1.0}) rather than Java's {@code toString()}. A null
 * (undefined or None) prints as the empty string, as an undefined value does in jinja2.
 */
public final class PyInterpreter extends JinjavaInterpreter {
    public static final InterpreterFactory FACTORY = new InterpreterFactory() {
        @Override
        public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
            return new PyInterpreter(orig);
        }

        @Override
        public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig config) {
            return new PyInterpreter(application, context, config);
        }
    };

    PyInterpreter(Jinjava application, Context context, JinjavaConfig config) {
        super(application, context, config);
    }

    PyInterpreter(JinjavaInterpreter orig) {
        super(orig);
    }

    @Override
    public String getAsString(Object object) {
        Object v = PyValues.unwrap(object);
        return v == null ? "" : PyValues.str(v);
    }
}
