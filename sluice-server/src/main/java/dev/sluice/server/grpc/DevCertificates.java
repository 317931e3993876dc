package dev.sluice.server.grpc;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Development certificates for gRPC mTLS ({@code sluice certs}): a CA, a server certificate
 * (SANs {@code localhost}, {@code 127.0.0.1}, {@code ::1} and the given hosts) and a client
 * certificate, all signed by the CA, as PEM files with PKCS#8 keys (ECDSA P-256). For development
 * and tests; production certificates come from the deployment's own CA.
 */
public final class DevCertificates {
    /** Validity of the certificates by default: 365 days. */
    public static final int DEFAULT_DAYS = 365;
    /** The files {@link #write} makes, in this order. */
    public static final List<String> FILES = List.of("ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem");
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private DevCertificates() {}

    /** A key pair and its certificate. */
    public record Issued(KeyPair keys, X509Certificate cert) {
        public String certPem() {
            return pem(cert);
        }

        public String keyPem() {
            try {
                return pem(new PemObject("PRIVATE KEY", keys.getPrivate().getEncoded()));
            } catch (RuntimeException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A self-signed CA named {@code cn}. */
    public static Issued ca(String cn, int days) {
        KeyPair kp = keyPair();
        X500Name name = new X500Name("CN=" + cn);
        try {
            var ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(name, name, kp, days)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            return new Issued(kp, sign(b, kp));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot make the CA certificate: " + e.getMessage(), e);
        }
    }

    /** A server certificate signed by {@code ca}, valid for localhost, 127.0.0.1, ::1 and {@code hosts} (names or IP literals). */
    public static Issued server(Issued ca, String cn, List<String> hosts, int days) {
        Set<String> all = new LinkedHashSet<>(List.of("localhost", "127.0.0.1", "::1"));
        all.addAll(hosts);
        List<GeneralName> sans = new ArrayList<>();
        for (String h : all) sans.add(isIp(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
        return leaf(ca, cn, KeyPurposeId.id_kp_serverAuth, new GeneralNames(sans.toArray(GeneralName[]::new)), days);
    }

    /** A client certificate signed by {@code ca}, for mTLS. */
    public static Issued client(Issued ca, String cn, int days) {
        return leaf(ca, cn, KeyPurposeId.id_kp_clientAuth, null, days);
    }

    /**
     * Writes a CA, a server and a client certificate into {@code dir} (made if missing) as {@link #FILES}.
     * Refuses to overwrite an existing file unless {@code force}; keys are readable by the owner only where
     * the file system has POSIX permissions.
     *
     * @return the files written
     * @throws FileAlreadyExistsException when a file exists and {@code force} is false (nothing is written)
     */
    public static List<Path> write(Path dir, List<String> hosts, int days, boolean force) throws IOException {
        if (days < 1) throw new IllegalArgumentException("days must be >= 1, got " + days);
        List<Path> paths = FILES.stream().map(dir::resolve).toList();
        if (!force) for (Path p : paths) if (Files.exists(p)) throw new FileAlreadyExistsException(p.toString(), null, "exists (use --force to overwrite)");
        Issued ca = ca("Sluice development CA", days);
        Issued server = server(ca, "sluice-worker", hosts, days);
        Issued client = client(ca, "sluice-gateway", days);
        Files.createDirectories(dir);
        String[] texts = {ca.certPem(), ca.keyPem(), server.certPem(), server.keyPem(), client.certPem(), client.keyPem()};
        for (int i = 0; i < paths.size(); i++) {
            Path p = paths.get(i);
            Files.writeString(p, texts[i]);
            if (FILES.get(i).endsWith("-key.pem")) {
                try {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
                } catch (UnsupportedOperationException ignored) {
                    // not a POSIX file system
                }
            }
        }
        return paths;
    }

    private static Issued leaf(Issued ca, String cn, KeyPurposeId purpose, GeneralNames sans, int days) {
        KeyPair kp = keyPair();
        try {
            var ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(new X509CertificateHolder(ca.cert().getEncoded()).getSubject(), new X500Name("CN=" + cn), kp, days)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca.cert()));
            if (sans != null) b.addExtension(Extension.subjectAlternativeName, false, sans);
            return new Issued(kp, sign(b, ca.keys()));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot make the certificate for " + cn + ": " + e.getMessage(), e);
        }
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair kp, int days) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(Duration.ofDays(days))), subject, kp.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static KeyPair keyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 keys are not available in this JDK", e);
        }
    }

    private static boolean isIp(String h) {
        if (IPV4.matcher(h).matches()) return true;
        if (!h.contains(":")) return false;
        try {
            InetAddress.getByName(h); // an IPv6 literal never triggers a lookup
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String pem(Object o) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }
}
