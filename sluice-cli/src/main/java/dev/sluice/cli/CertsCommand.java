package dev.sluice.cli;

import dev.sluice.server.grpc.DevCertificates;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code sluice certs}: a development CA and, signed by it, a server certificate for workers
 * (SANs localhost, 127.0.0.1, ::1 and {@code --host}s) and a client certificate for the gateway,
 * as PEM files in {@code --out}, for gRPC mTLS ({@code docs/grpc.md}). Refuses to overwrite
 * existing files unless {@code --force}. Prints the files it wrote and the matching config.
 */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = {"Make a development CA, a worker (server) and a gateway (client) certificate for gRPC mTLS, as PEM files.",
                "For development and tests; use your own CA in production."})
public final class CertsCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", defaultValue = "certs", description = "Directory to write into, made if missing (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--host", paramLabel = "HOST", description = "Another name or IP address the workers are reached at (repeatable); localhost, 127.0.0.1 and ::1 are always included.")
    List<String> hosts = List.of();

    @Option(names = "--days", paramLabel = "N", defaultValue = "" + DevCertificates.DEFAULT_DAYS, description = "Validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Option(names = "--force", description = "Overwrite existing files.")
    boolean force;

    @Override
    public Integer call() {
        if (days < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--days must be >= 1, got " + days);
        for (String h : hosts) {
            if (h.isBlank() || h.contains("/") || h.contains(" ")) throw new CommandLine.ParameterException(spec.commandLine(), "--host must be a host name or IP address, got '" + h + "'");
        }
        List<Path> files;
        try {
            files = DevCertificates.write(out, hosts, days, force);
        } catch (FileAlreadyExistsException e) {
            throw new CliException(e.getFile() + " already exists; use --force to overwrite, or --out for another directory");
        } catch (IOException e) {
            throw new CliException("cannot write certificates into " + out + ": " + e.getMessage());
        }
        PrintWriter w = spec.commandLine().getOut();
        for (Path f : files) w.println("wrote " + f);
        Path d = out.toAbsolutePath().normalize();
        w.println();
        w.println("# worker (sluice serve --role worker --config worker.yaml):");
        w.println("grpc:");
        w.println("  server: {cert: " + d.resolve("server.pem") + ", key: " + d.resolve("server-key.pem") + ", ca: " + d.resolve("ca.pem") + "}");
        w.println("# gateway (sluice serve --role gateway --config gateway.yaml):");
        w.println("grpc:");
        w.println("  client: {cert: " + d.resolve("client.pem") + ", key: " + d.resolve("client-key.pem") + ", ca: " + d.resolve("ca.pem") + "}");
        w.flush();
        return 0;
    }
}
