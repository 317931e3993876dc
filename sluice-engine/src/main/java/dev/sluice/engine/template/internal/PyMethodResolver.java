package dev.sluice.engine.template.internal;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Resolves Python's {@code str} and {@code dict} method calls ({@code s.split('</think>')},
 * {@code s.startswith(...)}, {@code d.get(k, default)}, {@code d.items()}, ...) with Python
 * semantics, ahead of Jinjava's bean resolver, which would call the Java methods of the same name
 * (regex {@code String.split}) or none at all. Properties are left to the resolvers after it.
 * Stateless and thread-safe.
 */
public final class PyMethodResolver extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        base = PyValues.unwrap(base);
        if (base == null || method == null) return null;
        Object[] args = params == null ? new Object[0] : params;
        for (int i = 0; i < args.length; i++) args[i] = PyValues.unwrap(args[i]);
        Object result;
        if (base instanceof String s) result = stringMethod(s, method.toString(), args);
        else if (base instanceof Map<?, ?> m) result = mapMethod(m, method.toString(), args);
        else return null;
        if (result == NOT_HANDLED) return null;
        context.setPropertyResolved(true);
        return result;
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object stringMethod(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> PyValues.strip(s, optStr(a, 0), true, true);
            case "lstrip" -> PyValues.strip(s, optStr(a, 0), true, false);
            case "rstrip" -> PyValues.strip(s, optStr(a, 0), false, true);
            case "split" -> PyValues.split(s, optStr(a, 0), (int) optInt(a, 1, -1));
            case "rsplit" -> PyValues.rsplit(s, optStr(a, 0), (int) optInt(a, 1, -1));
            case "splitlines" -> splitlines(s, a.length > 0 && PyValues.truthy(a[0]));
            case "startswith" -> affix(s, a, true);
            case "endswith" -> affix(s, a, false);
            case "replace" -> replace(s, str(a, 0), str(a, 1), optInt(a, 2, -1));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> PyValues.title(s);
            case "capitalize" -> PyValues.capitalize(s);
            case "swapcase" -> swapcase(s);
            case "find" -> (long) find(s, str(a, 0), false);
            case "rfind" -> (long) find(s, str(a, 0), true);
            case "index", "rindex" -> {
                int i = find(s, str(a, 0), name.equals("rindex"));
                if (i < 0) throw new IllegalArgumentException("substring not found");
                yield (long) i;
            }
            case "count" -> (long) count(s, str(a, 0));
            case "join" -> {
                List<Object> parts = PyValues.toList(a.length > 0 ? a[0] : null);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < parts.size(); i++) {
                    if (i > 0) sb.append(s);
                    if (!(parts.get(i) instanceof CharSequence)) {
                        throw new IllegalArgumentException("sequence item " + i + ": expected str instance");
                    }
                    sb.append(parts.get(i));
                }
                yield sb.toString();
            }
            case "isdigit", "isnumeric", "isdecimal" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.codePoints().allMatch(PyValues::isSpace);
            case "islower" -> s.codePoints().anyMatch(Character::isLowerCase)
                    && s.codePoints().noneMatch(c -> Character.isUpperCase(c) || Character.isTitleCase(c));
            case "isupper" -> s.codePoints().anyMatch(Character::isUpperCase)
                    && s.codePoints().noneMatch(Character::isLowerCase);
            case "removeprefix" -> s.startsWith(str(a, 0)) ? s.substring(str(a, 0).length()) : s;
            case "removesuffix" -> !str(a, 0).isEmpty() && s.endsWith(str(a, 0))
                    ? s.substring(0, s.length() - str(a, 0).length()) : s;
            case "zfill" -> zfill(s, (int) optInt(a, 0, 0));
            case "format" -> {
                List<Object> positional = new ArrayList<>();
                Map<String, Object> named = new java.util.LinkedHashMap<>();
                for (Object o : a) {
                    if (o instanceof com.hubspot.jinjava.el.ext.NamedParameter np) named.put(np.getName(), PyValues.unwrap(np.getValue()));
                    else positional.add(o);
                }
                yield PyValues.strFormat(s, positional, named);
            }
            default -> NOT_HANDLED;
        };
    }

    private static Object mapMethod(Map<?, ?> m, String name, Object[] a) {
        return switch (name) {
            case "get" -> {
                if (a.length == 0) yield NOT_HANDLED;
                Object key = a[0];
                yield m.containsKey(key) ? m.get(key) : (a.length > 1 ? a[1] : PyNone.INSTANCE);
            }
            case "items" -> {
                if (a.length != 0) yield NOT_HANDLED;
                List<Object> items = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) items.add(new PyTuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
                yield items;
            }
            case "keys" -> a.length == 0 ? new ArrayList<Object>(m.keySet()) : NOT_HANDLED;
            case "values" -> a.length == 0 ? new ArrayList<Object>(m.values()) : NOT_HANDLED;
            default -> NOT_HANDLED;
        };
    }

    private static String str(Object[] a, int i) {
        if (i >= a.length || !(a[i] instanceof CharSequence cs)) {
            throw new IllegalArgumentException("expected a string argument at position " + (i + 1));
        }
        return cs.toString();
    }

    private static String optStr(Object[] a, int i) {
        return i < a.length && a[i] != null ? str(a, i) : null;
    }

    private static long optInt(Object[] a, int i, long dflt) {
        if (i >= a.length || a[i] == null) return dflt;
        if (a[i] instanceof Number n) return n.longValue();
        throw new IllegalArgumentException("expected an integer argument at position " + (i + 1));
    }

    private static boolean affix(String s, Object[] a, boolean prefix) {
        if (a.length == 0) throw new IllegalArgumentException((prefix ? "startswith" : "endswith") + " takes at least 1 argument");
        List<Object> candidates = a[0] instanceof CharSequence ? List.of(a[0]) : PyValues.toList(a[0]);
        int start = (int) Math.min(s.length(), Math.max(0, optInt(a, 1, 0)));
        String t = s.substring(start);
        for (Object c : candidates) {
            String x = String.valueOf(c);
            if (prefix ? t.startsWith(x) : t.endsWith(x)) return true;
        }
        return false;
    }

    private static String replace(String s, String old, String rep, long count) {
        if (count < 0) {
            if (old.isEmpty()) {
                StringBuilder sb = new StringBuilder(rep);
                s.codePoints().forEach(cp -> sb.appendCodePoint(cp).append(rep));
                return sb.toString();
            }
            return s.replace(old, rep);
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = s.indexOf(old, from);
            if (at < 0 || old.isEmpty()) break;
            sb.append(s, from, at).append(rep);
            from = at + old.length();
        }
        return sb.append(s.substring(from)).toString();
    }

    private static int find(String s, String sub, boolean last) {
        return last ? s.lastIndexOf(sub) : s.indexOf(sub);
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.codePointCount(0, s.length()) + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static List<Object> splitlines(String s, boolean keepends) {
        List<Object> out = new ArrayList<>();
        int start = 0, i = 0, n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            boolean br = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e
                    || c == 0x85 || c == 0x2028 || c == 0x2029;
            if (!br) {
                i++;
                continue;
            }
            int eol = i + ((c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') ? 2 : 1);
            out.add(s.substring(start, keepends ? eol : i));
            start = i = eol;
        }
        if (start < n) out.add(s.substring(start));
        return out;
    }

    private static String swapcase(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(cp -> sb.appendCodePoint(
                Character.isUpperCase(cp) ? Character.toLowerCase(cp) : Character.toUpperCase(cp)));
        return sb.toString();
    }

    private static String zfill(String s, int width) {
        if (s.length() >= width) return s;
        String pad = "0".repeat(width - s.length());
        if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) return s.charAt(0) + pad + s.substring(1);
        return pad + s;
    }

    /** Python string indexing, {@code s[i]} with negative {@code i}; out of range is undefined (null). */
    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        Long index = property instanceof Long || property instanceof Integer ? Long.valueOf(((Number) property).longValue())
                : property instanceof String p && p.matches("-?\\d{1,9}") ? Long.valueOf(p) : null;
        if (base instanceof String s && index != null) {
            long i = index;
            int n = s.length();
            if (i < 0) i += n;
            context.setPropertyResolved(true);
            return i >= 0 && i < n ? String.valueOf(s.charAt((int) i)) : null;
        }
        return null;
    }

    // Other properties are not this resolver's business.
    @Override public Class<?> getType(ELContext context, Object base, Object property) { return null; }
    @Override public void setValue(ELContext context, Object base, Object property, Object value) { }
    @Override public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }
    @Override public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return Collections.emptyIterator(); }
    @Override public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
}
