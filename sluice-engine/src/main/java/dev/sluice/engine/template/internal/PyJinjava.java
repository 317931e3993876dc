package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import java.util.Map;
import java.util.Properties;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.javax.el.ExpressionFactory;

/**
 * A Jinjava whose expressions follow Python: the operators of {@link PySyntaxBuilder}; truthiness
 * is Python's (the string {@code "false"} is true; Jinjava's own converter says false); {@code ~}
 * concatenation prints {@code True}, {@code None}, {@code 1.0}, {@code ['a']} as {@code str()}
 * does. Otherwise Jinjava's expression factory, configured as Jinjava configures its own.
 * Thread-safe as Jinjava is.
 */
public final class PyJinjava extends Jinjava {
    private final ExpressionFactory expressionFactory;

    public PyJinjava(JinjavaConfig config) {
        super(config);
        Properties props = new Properties();
        props.setProperty(TreeBuilder.class.getName(), PySyntaxBuilder.class.getName());
        this.expressionFactory = new ExpressionFactoryImpl(props, new PyTypeConverter());
    }

    @Override
    public ExpressionFactory getExpressionFactory() {
        return expressionFactory;
    }

    /** Python truthiness and {@code str()} for the EL's boolean and string coercions. */
    static final class PyTypeConverter extends TruthyTypeConverter {
        private static final long serialVersionUID = 1L;

        @Override
        protected Boolean coerceToBoolean(Object value) {
            return PyValues.truthy(value);
        }

        @Override
        protected String coerceToString(Object value) {
            Object v = PyValues.unwrap(value);
            if (v == null) return "";
            if (v instanceof PyNone || v instanceof Boolean || v instanceof Number || v instanceof Map<?, ?> || v instanceof java.util.Collection<?>) {
                return PyValues.str(v);
            }
            return super.coerceToString(v);
        }
    }
}
