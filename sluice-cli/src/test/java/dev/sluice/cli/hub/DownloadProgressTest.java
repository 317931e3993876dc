package dev.sluice.cli.hub;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class DownloadProgressTest {
    @Test
    void terminalDrawsABarInPlaceAndEndsWithASummaryLine() {
        StringWriter s = new StringWriter();
        DownloadProgress p = DownloadProgress.console(new PrintWriter(s), true);
        p.start("model.safetensors", 4 << 20, 1 << 20);
        p.update(2 << 20);
        p.finish(4 << 20);
        String out = s.toString();
        assertThat(out).startsWith("\r\033[Kmodel.safetensors [").contains(" 25% 1.0 MiB/4.0 MiB");
        assertThat(out).endsWith("\r\033[Kdownloaded model.safetensors (4.0 MiB) in " + out.substring(out.lastIndexOf(" in ") + 4));
        assertThat(out.chars().filter(c -> c == '\n').count()).isEqualTo(1);
    }

    @Test
    void nonTerminalPrintsPlainLines() {
        StringWriter s = new StringWriter();
        DownloadProgress p = DownloadProgress.console(new PrintWriter(s), false);
        p.start("config.json", 2048, 0);
        p.update(1024); // within the line interval: no line
        p.finish(2048);
        assertThat(s.toString()).doesNotContain("\r").doesNotContain("\033")
                .startsWith("downloading config.json (2.0 KiB)\n").contains("downloaded config.json (2.0 KiB) in ");
        assertThat(s.toString().lines()).hasSize(2);
    }

    @Test
    void sizes() {
        assertThat(DownloadProgress.Console.size(512)).isEqualTo("512 B");
        assertThat(DownloadProgress.Console.size(1536)).isEqualTo("1.5 KiB");
        assertThat(DownloadProgress.Console.size(3L << 30)).isEqualTo("3.00 GiB");
    }
}
