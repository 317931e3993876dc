package dev.sluice.engine.template.internal;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.ext.CollectionMembershipOperator;
import com.hubspot.jinjava.el.ext.CollectionNonMembershipOperator;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import jinjava.de.odysseus.el.misc.NumberOperations;
import jinjava.de.odysseus.el.misc.TypeConverter;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstBracket;
import jinjava.de.odysseus.el.tree.impl.ast.AstDot;
import jinjava.de.odysseus.el.tree.impl.ast.AstRightValue;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.javax.el.ELContext;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Jinjava's expression syntax with Python's meaning for the operators whose Java meaning differs:
 * {@code +} (no implicit string conversion: {@code 'a' + None} is an error, as in Python, not
 * {@code "aNone"}), {@code and} (returns an operand, not a boolean), {@code ==}/{@code !=} (no
 * coercion: {@code '1' == 1} is false, {@code 1 == 1.0} is true) and {@code in}/{@code not in}
 * (Python membership; {@code x in None} is an error); and an attribute, item or method of an
 * undefined value is an error, as jinja2's UndefinedError. Stateless; the EL instantiates the
 * builder by class name.
 */
public final class PySyntaxBuilder extends ExtendedSyntaxBuilder {
    private static final long serialVersionUID = 1L;

    public PySyntaxBuilder() {
        super();
    }

    public PySyntaxBuilder(Feature... features) {
        super(features);
    }

    @Override
    protected Parser createParser(String expression) {
        return new PyParser(this, expression);
    }

    static final class PyParser extends ExtendedParser {
        PyParser(jinjava.de.odysseus.el.tree.impl.Builder context, String input) {
            super(context, input);
            putExtensionHandler(CollectionMembershipOperator.TOKEN, new ExtensionHandler(ExtensionPoint.CMP) {
                @Override
                public AstNode createAstNode(AstNode... children) {
                    return new AstBinary(children[0], children[1], IN);
                }
            });
            putExtensionHandler(CollectionNonMembershipOperator.TOKEN, new ExtensionHandler(ExtensionPoint.CMP) {
                @Override
                public AstNode createAstNode(AstNode... children) {
                    return new AstBinary(children[0], children[1], NOT_IN);
                }
            });
        }

        // jinja2: an attribute, item or method of an Undefined value raises UndefinedError (an
        // attribute of None is merely Undefined). Jinjava's null is jinja2's Undefined, so the
        // prefix of every '.', '[]' and method call must not be null.
        @Override
        protected AstDot createAstDot(AstNode prefix, String property, boolean lvalue) {
            return super.createAstDot(new RequireDefined(prefix), property, lvalue);
        }

        @Override
        protected AstBracket createAstBracket(AstNode prefix, AstNode property, boolean lvalue, boolean strict) {
            return super.createAstBracket(new RequireDefined(prefix), property, lvalue, strict);
        }

        @Override
        protected jinjava.de.odysseus.el.tree.impl.ast.AstUnary createAstUnary(AstNode child,
                jinjava.de.odysseus.el.tree.impl.ast.AstUnary.Operator operator) {
            if (operator == jinjava.de.odysseus.el.tree.impl.ast.AstUnary.NEG) operator = NEG;
            return super.createAstUnary(child, operator);
        }

        /** Tuple literals evaluate to {@link PyTuple}, which prints and formats as a Python tuple. */
        @Override
        protected com.hubspot.jinjava.el.ext.AstTuple createAstTuple(jinjava.de.odysseus.el.tree.impl.ast.AstParameters parameters)
                throws jinjava.de.odysseus.el.tree.impl.Scanner.ScanException, ParseException {
            return new com.hubspot.jinjava.el.ext.AstTuple(parameters) {
                @Override
                public Object eval(Bindings bindings, ELContext context) {
                    return new PyTuple(PyValues.toList(super.eval(bindings, context)));
                }
            };
        }

        @Override
        protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
            if (operator == com.hubspot.jinjava.el.ext.AdditionOperator.OP || operator == AstBinary.ADD) operator = ADD;
            else if (operator == AstBinary.AND) operator = AND;
            else if (operator == AstBinary.EQ) operator = EQ;
            else if (operator == AstBinary.NE) operator = NE;
            else if (operator == AstBinary.MOD) operator = MOD;
            else if (operator == AstBinary.MUL) operator = MUL;
            else if (operator == AstBinary.SUB) operator = SUB;
            else if (operator == AstBinary.DIV) operator = DIV;
            return super.createAstBinary(left, right, operator);
        }
    }

    /** Thrown where jinja2 raises UndefinedError. */
    public static final class UndefinedException extends RuntimeException {
        UndefinedException(String message) {
            super(message, null, false, false);
        }
    }

    /** Evaluates its child and rejects an undefined (null) result. */
    static final class RequireDefined extends AstRightValue {
        private final AstNode child;

        RequireDefined(AstNode child) {
            this.child = child;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            Object v = child.eval(bindings, context);
            if (v == null) {
                StringBuilder sb = new StringBuilder();
                child.appendStructure(sb, bindings);
                throw new UndefinedException("'" + sb + "' is undefined");
            }
            return v;
        }

        @Override
        public void appendStructure(StringBuilder builder, Bindings bindings) {
            child.appendStructure(builder, bindings);
        }

        @Override
        public String toString() {
            return child.toString();
        }

        @Override
        public int getCardinality() {
            return 1;
        }

        @Override
        public AstNode getChild(int i) {
            return i == 0 ? child : null;
        }
    }

    static final AstBinary.Operator AND = new AstBinary.Operator() {
        @Override
        public Object eval(Bindings bindings, ELContext context, AstNode left, AstNode right) {
            Object l = left.eval(bindings, context);
            return PyValues.truthy(l) ? right.eval(bindings, context) : l;
        }

        @Override
        public String toString() {
            return "and";
        }
    };

    static final AstBinary.Operator EQ = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return PyValues.pyEquals(a, b);
        }

        @Override
        public String toString() {
            return "==";
        }
    };

    static final AstBinary.Operator NE = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return !PyValues.pyEquals(a, b);
        }

        @Override
        public String toString() {
            return "!=";
        }
    };

    static final AstBinary.Operator ADD = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            a = PyValues.unwrap(a);
            b = PyValues.unwrap(b);
            if (a instanceof CharSequence && b instanceof CharSequence) return a.toString() + b;
            if (a instanceof CharSequence || b instanceof CharSequence) {
                throw new IllegalArgumentException(a instanceof CharSequence
                        ? "can only concatenate str (not \"" + PyValues.typeName(b) + "\") to str"
                        : "unsupported operand type(s) for +: '" + PyValues.typeName(a) + "' and 'str'");
            }
            if (a instanceof List<?> x && b instanceof List<?> y) {
                List<Object> out = new ArrayList<>(x);
                out.addAll(y);
                return out;
            }
            if (a == null || b == null || a instanceof PyNone || b instanceof PyNone
                    || a instanceof Collection<?> || b instanceof Collection<?> || a instanceof Map<?, ?> || b instanceof Map<?, ?>) {
                throw new IllegalArgumentException("unsupported operand type(s) for +: '" + PyValues.typeName(a)
                        + "' and '" + PyValues.typeName(b) + "'");
            }
            return NumberOperations.add(converter, number(a), number(b));
        }

        @Override
        public String toString() {
            return "+";
        }
    };

    /** {@code %}: printf-style formatting when the left side is a string, else modulo. */
    static final AstBinary.Operator MOD = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            Object x = PyValues.unwrap(a);
            if (x instanceof CharSequence cs) return PyValues.percentFormat(cs.toString(), b);
            return NumberOperations.mod(converter, number(x), number(b));
        }

        @Override
        public String toString() {
            return "%";
        }
    };

    /** {@code *}: repetition of a string or list by an int, else multiplication. */
    static final AstBinary.Operator MUL = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            Object x = PyValues.unwrap(a), y = PyValues.unwrap(b);
            if ((x instanceof CharSequence || x instanceof List<?>) && isInt(y)) {
                return repeat(x, ((Number) number(y)).intValue());
            }
            if ((y instanceof CharSequence || y instanceof List<?>) && isInt(x)) {
                return repeat(y, ((Number) number(x)).intValue());
            }
            return NumberOperations.mul(converter, number(x), number(y));
        }

        private Object repeat(Object seq, int n) {
            if (seq instanceof CharSequence cs) return cs.toString().repeat(Math.max(0, n));
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < n; i++) out.addAll((List<?>) seq);
            return out;
        }

        @Override
        public String toString() {
            return "*";
        }
    };

    private static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Integer || v instanceof Boolean;
    }

    /** Python's bool is an int: True + 1 == 2. */
    static Object number(Object v) {
        v = PyValues.unwrap(v);
        return v instanceof Boolean b ? (Object) (b ? 1L : 0L) : v;
    }

    /** Unary minus; a bool is an int (-True == -1), a string is a TypeError. */
    static final jinjava.de.odysseus.el.tree.impl.ast.AstUnary.Operator NEG = new jinjava.de.odysseus.el.tree.impl.ast.AstUnary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object v) {
            Object x = number(v);
            if (!(x instanceof Number)) throw new IllegalArgumentException("bad operand type for unary -: '" + PyValues.typeName(x) + "'");
            return NumberOperations.neg(converter, x);
        }

        @Override
        public String toString() {
            return "-";
        }
    };

    static final AstBinary.Operator SUB = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return NumberOperations.sub(converter, number(a), number(b));
        }

        @Override
        public String toString() {
            return "-";
        }
    };

    static final AstBinary.Operator DIV = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return NumberOperations.div(converter, number(a), number(b));
        }

        @Override
        public String toString() {
            return "/";
        }
    };

    static final AstBinary.Operator IN = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return PyValues.contains(b, a);
        }

        @Override
        public String toString() {
            return "in";
        }
    };

    static final AstBinary.Operator NOT_IN = new AstBinary.SimpleOperator() {
        @Override
        protected Object apply(TypeConverter converter, Object a, Object b) {
            return !PyValues.contains(b, a);
        }

        @Override
        public String toString() {
            return "not in";
        }
    };
}
