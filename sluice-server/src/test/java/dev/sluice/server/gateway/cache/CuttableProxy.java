package dev.sluice.server.gateway.cache;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP proxy in front of a real service (here this machine's shared Redis) that a test
 * can cut: {@link #cut()} closes every proxied connection and stops listening, which is what the
 * gateway sees when Redis stops; {@link #restore()} listens again on the same port. The service
 * itself is never touched, so tests that share it are not disturbed.
 */
final class CuttableProxy implements AutoCloseable {
    private final int targetPort;
    private final int port;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile ServerSocket server;

    CuttableProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.port = listen(0);
    }

    int port() {
        return port;
    }

    private int listen(int p) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p));
        server = s;
        Thread.ofVirtual().start(() -> accept(s));
        return s.getLocalPort();
    }

    private void accept(ServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket client = s.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(upstream);
                Thread.ofVirtual().start(() -> pump(client, upstream));
                Thread.ofVirtual().start(() -> pump(upstream, client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void pump(Socket from, Socket to) {
        byte[] buf = new byte[8192];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // cut, or closed by either side
        } finally {
            close(from);
            close(to);
        }
    }

    /** Redis "stops": every connection is closed and new ones are refused. */
    void cut() {
        close(server);
        for (Socket s : sockets) close(s);
        sockets.clear();
    }

    /** Redis is back on the same port. */
    void restore() throws IOException {
        listen(port);
    }

    private static void close(java.io.Closeable c) {
        try {
            if (c != null) c.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() {
        cut();
    }
}
