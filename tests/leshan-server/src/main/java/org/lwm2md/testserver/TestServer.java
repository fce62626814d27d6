package org.lwm2md.testserver;

import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

import org.eclipse.californium.elements.config.Configuration;
import org.eclipse.leshan.core.endpoint.Protocol;
import org.eclipse.leshan.core.model.ObjectLoader;
import org.eclipse.leshan.core.model.ObjectModel;
import org.eclipse.leshan.server.LeshanServer;
import org.eclipse.leshan.server.LeshanServerBuilder;
import org.eclipse.leshan.server.queue.StaticClientAwakeTimeProvider;
import org.eclipse.leshan.server.model.VersionedModelProvider;
import org.eclipse.leshan.servers.security.EditableSecurityStore;
import org.eclipse.leshan.servers.security.InMemorySecurityStore;
import org.eclipse.leshan.transport.californium.server.endpoint.CaliforniumServerEndpointsProvider;
import org.eclipse.leshan.transport.californium.server.endpoint.coap.CoapServerProtocolProvider;
import org.eclipse.leshan.transport.californium.server.endpoint.coaps.CoapsServerProtocolProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;

/**
 * LwM2M test server for lwm2md's integration tests: Eclipse Leshan's server library (registration, device management,
 * observe, send, queue mode; CoAP via Californium) behind a REST/SSE API that mirrors the Leshan demo server's.
 */
public final class TestServer {

    private TestServer() {
    }

    public static void main(String[] args) {
        Cli cli;
        try {
            cli = Cli.parse(args);
        } catch (Cli.HelpRequested e) {
            Cli.usage(System.out);
            return;
        } catch (Cli.UsageException e) {
            System.err.println(e.getMessage());
            Cli.usage(System.err);
            System.exit(2);
            return;
        }
        configureLogging(cli.verbosity);
        Logger log = LoggerFactory.getLogger(TestServer.class);
        try {
            start(cli, log);
        } catch (Exception e) {
            log.error("Unable to create and start server ...", e);
            System.exit(1);
        }
        // serve until killed (the shutdown hook stops everything)
        try {
            new java.util.concurrent.CountDownLatch(1).await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** slf4j-simple, to stderr. Must run before the first logger is created. */
    private static void configureLogging(int verbosity) {
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
        setDefault("org.slf4j.simpleLogger.showDateTime", "true");
        setDefault("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        setDefault("org.slf4j.simpleLogger.showThreadName", "false");
        setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
        setDefault("org.slf4j.simpleLogger.levelInBrackets", "true");
        String app = verbosity >= 2 ? "trace" : verbosity == 1 ? "debug" : "info";
        String leshan = verbosity >= 1 ? "debug" : "info";
        String californium = verbosity >= 3 ? "trace" : verbosity == 2 ? "debug" : verbosity == 1 ? "info" : "warn";
        setDefault("org.slf4j.simpleLogger.defaultLogLevel", "info");
        setDefault("org.slf4j.simpleLogger.log.org.lwm2md", app);
        setDefault("org.slf4j.simpleLogger.log.org.eclipse.leshan", leshan);
        setDefault("org.slf4j.simpleLogger.log.org.eclipse.californium", californium);
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    private static void start(Cli cli, Logger log) throws Exception {
        EditableSecurityStore securityStore = new InMemorySecurityStore();
        LeshanServer lwm2m = createLeshanServer(cli, securityStore);

        ObjectMapper mapper = Json.createMapper(lwm2m.getPresenceService());
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(daemon("sse-heartbeat"));
        EventHub events = new EventHub(lwm2m, mapper, scheduler);

        InetSocketAddress webAddr = cli.webHost == null ? new InetSocketAddress(cli.webPort)
                : new InetSocketAddress(cli.webHost, cli.webPort);
        HttpServer web = HttpServer.create(webAddr, 64);
        web.createContext("/api/event", events);
        web.createContext("/api/clients", Http.mount("/api/clients", new ClientsApi(lwm2m, mapper, events)));
        web.createContext("/api/server", Http.mount("/api/server", MiscApi.server(lwm2m, mapper)));
        web.createContext("/api/security", Http.mount("/api/security", MiscApi.security(securityStore, mapper)));
        web.createContext("/api/objectspecs", Http.mount("/api/objectspecs", MiscApi.objectSpecs(lwm2m, mapper)));
        web.createContext("/", Http.mount("/", MiscApi.webPage()));
        // requests block until the device answers and event streams stay open: one thread each
        ExecutorService httpThreads = Executors.newCachedThreadPool(daemon("http"));
        web.setExecutor(httpThreads);

        lwm2m.start(); // logs the CoAP endpoint URIs
        web.start();

        InetSocketAddress bound = web.getAddress();
        String host = cli.webHost != null ? cli.webHost
                : bound.getAddress().isAnyLocalAddress() ? InetAddress.getLoopbackAddress().getHostName()
                        : bound.getAddress().getHostAddress();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        log.info("Web server started at http://{}:{}/.", host, bound.getPort());

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            events.closeAll();
            web.stop(0);
            lwm2m.destroy();
            httpThreads.shutdownNow();
            scheduler.shutdownNow();
        }, "shutdown"));
    }

    static LeshanServer createLeshanServer(Cli cli, EditableSecurityStore securityStore) throws Exception {
        LeshanServerBuilder builder = new LeshanServerBuilder();

        // models: Leshan's built-in OMA models (all versions) + the -m folder
        List<ObjectModel> models = new ArrayList<>(ObjectLoader.loadAllDefault());
        if (cli.modelsFolder != null) {
            File dir = cli.modelsFolder;
            if (!dir.isDirectory()) {
                throw new IllegalArgumentException("Models folder " + dir + " is not a directory");
            }
            models.addAll(ObjectLoader.loadObjectsFromDir(dir, true));
        }
        builder.setObjectModelProvider(new VersionedModelProvider(models));
        builder.setSecurityStore(securityStore);
        if (cli.awakeTime != null) {
            builder.setClientAwakeTimeProvider(new StaticClientAwakeTimeProvider(cli.awakeTime * 1000));
        }
        if (cli.x509Cert != null || cli.x509PrivateKey != null) {
            if (cli.x509Cert == null || cli.x509PrivateKey == null) {
                throw new IllegalArgumentException("-xcert and -xprik go together");
            }
            builder.setCertificateChain(Pem.certificates(cli.x509Cert).toArray(new X509Certificate[0]));
            builder.setPrivateKey(Pem.privateKey(cli.x509PrivateKey));
        }
        if (cli.rpkPublicKey != null || cli.rpkPrivateKey != null) {
            if (cli.rpkPublicKey == null || cli.rpkPrivateKey == null) {
                throw new IllegalArgumentException("-rpubk and -rprik go together");
            }
            builder.setPublicKey(Pem.publicKey(cli.rpkPublicKey));
            builder.setPrivateKey(Pem.privateKey(cli.rpkPrivateKey));
        }
        if (cli.trustStore != null) {
            builder.setTrustedCertificates(Pem.certificates(cli.trustStore).toArray(new X509Certificate[0]));
        }

        // Californium transport. The configuration is built in memory: nothing is read from or written to
        // Californium*.properties files in the working directory.
        CaliforniumServerEndpointsProvider.Builder endpoints = new CaliforniumServerEndpointsProvider.Builder(
                new CoapServerProtocolProvider(), new CoapsServerProtocolProvider());
        Configuration coapConfig = endpoints.createDefaultConfiguration();
        endpoints.setConfiguration(coapConfig);

        InetSocketAddress coapAddr = cli.coapHost == null ? new InetSocketAddress(cli.coapPort)
                : new InetSocketAddress(cli.coapHost, cli.coapPort);
        endpoints.addEndpoint(coapAddr, Protocol.COAP);
        if (cli.coapsEnabled()) {
            int port = cli.coapsPort != null ? cli.coapsPort : 5684;
            InetSocketAddress coapsAddr = cli.coapsHost == null ? new InetSocketAddress(port)
                    : new InetSocketAddress(cli.coapsHost, port);
            endpoints.addEndpoint(coapsAddr, Protocol.COAPS);
        }
        builder.setEndpointsProviders(endpoints.build());
        return builder.build();
    }

    private static ThreadFactory daemon(String name) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
