package dev.sluice.cli;

import dev.sluice.engine.tensor.GGMLType;
import picocli.CommandLine;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** Parses a tensor type name such as {@code q8_0} (any case) into a {@link GGMLType}, limited to an allowed set. */
abstract class GgmlTypeConverter implements CommandLine.ITypeConverter<GGMLType> {
    private final List<GGMLType> allowed;

    GgmlTypeConverter(List<GGMLType> allowed) {
        this.allowed = allowed;
    }

    static String names(List<GGMLType> types) {
        return types.stream().map(t -> t.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
    }

    @Override
    public GGMLType convert(String value) {
        for (GGMLType t : allowed) {
            if (t.name().equalsIgnoreCase(value.trim())) return t;
        }
        throw new CommandLine.TypeConversionException("'" + value + "' is not one of: " + names(allowed));
    }
}
