package dev.sluice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class MainTest {
    @TempDir Path tmp;

    @Test
    void listsAllSubcommands() {
        Cli.Result r = Cli.run("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("generate", "chat", "tokenize", "convert", "quantize");
    }

    @Test
    void noCommandIsUsageErrorListingTheCommands() {
        Cli.Result r = Cli.run();
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("Missing command").contains("generate").contains("tokenize");
    }

    @Test
    void stopStringsAreUnescaped() {
        assertThat(SamplingOptions.unescape("\\n\\n")).isEqualTo("\n\n");
        assertThat(SamplingOptions.unescape("a\\tb\\\\n\\x")).isEqualTo("a\tb\\n\\x");
        assertThat(SamplingOptions.unescape("trailing\\")).isEqualTo("trailing\\");
    }

    @Test
    void unknownOptionIsUsageErrorWithExitCode2() {
        Cli.Result r = Cli.run("quantize", "-i", "a.gguf", "-o", "b.gguf", "-t", "q8_0", "--bogus");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--bogus");
    }

    @Test
    void missingRequiredOptionIsExitCode2() {
        Cli.Result r = Cli.run("quantize", "--input", "x.gguf", "--type", "q8_0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--output");
    }

    @Test
    void badQuantizeTypeNamesTheChoices() {
        Cli.Result r = Cli.run("quantize", "-i", "a.gguf", "-o", "b.gguf", "--type", "q5_k");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("q5_k").contains("q8_0, q4_0");
    }

    @Test
    void missingInputFileIsRuntimeErrorNamingThePath() {
        Path missing = tmp.resolve("nope.gguf");
        Cli.Result r = Cli.run("quantize", "-i", missing.toString(), "-o", tmp.resolve("out.gguf").toString(), "-t", "q4_0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("sluice: error:").contains(missing.toString()).doesNotContain("\tat ");
    }

    @Test
    void malformedModelFileIsOneLineErrorAndStackTraceOnlyWhenVerbose() throws Exception {
        Path bad = tmp.resolve("bad.gguf");
        Files.write(bad, new byte[] {'G', 'G', 'U', 'F', 9, 0, 0, 0});
        Cli.Result r = Cli.run("quantize", "-i", bad.toString(), "-o", tmp.resolve("out.gguf").toString(), "-t", "q8_0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("sluice: error: ").contains("bad.gguf").doesNotContain("\tat ");
        Cli.Result v = Cli.run("quantize", "-v", "-i", bad.toString(), "-o", tmp.resolve("out.gguf").toString(), "-t", "q8_0");
        assertThat(v.exit()).isEqualTo(1);
        assertThat(v.err()).contains("\tat ");
    }

    @Test
    void convertRejectsAFileAsInput() throws Exception {
        Path f = Files.writeString(tmp.resolve("config.json"), "{}");
        Cli.Result r = Cli.run("convert", "-i", f.toString(), "-o", tmp.resolve("o.gguf").toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("not a folder").contains(f.toString());
    }
}
