package org.lwm2md.testserver;

import java.io.File;
import java.io.PrintStream;

/**
 * Command line options. Names and defaults follow the Leshan demo server (leshan-demo-server 2.0.0-M18) for the
 * subset this test server supports.
 */
final class Cli {

    String coapHost;          // -lh: null = any local address
    int coapPort = 5683;      // -lp
    String coapsHost;         // -slh
    Integer coapsPort;        // -slp: CoAP over DTLS only started when -slh or -slp is given
    String webHost;           // -wh: null = any local address
    int webPort = 8080;       // -wp
    File modelsFolder;        // -m
    int verbosity;            // -v, -vv, -vvv
    Integer awakeTime;        // --awake-time (s): null = Leshan's default, 93 s
    File x509Cert;            // -xcert: the server's certificate (chain), PEM or DER
    File x509PrivateKey;      // -xprik: its private key, PKCS#8 (PEM or DER)
    File rpkPublicKey;        // -rpubk: the server's raw public key (PEM or DER SubjectPublicKeyInfo)
    File rpkPrivateKey;       // -rprik: its private key, PKCS#8 (PEM or DER)
    File trustStore;          // -ts: certificates trusted for clients' X.509 certificates (PEM or DER)

    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String msg) {
            super(msg);
        }
    }

    static final class HelpRequested extends Exception {
        private static final long serialVersionUID = 1L;
    }

    private static final java.util.Set<String> WITH_VALUE = java.util.Set.of("-lh", "--coap-host", "-lp",
            "--coap-port", "-slh", "--coaps-host", "-slp", "--coaps-port", "-wh", "--web-host", "-wp", "--web-port",
            "-m", "--models-folder", "--awake-time",
            "-xcert", "--x509-certificate-chain", "-xprik", "--x509-private-key",
            "-ts", "--truststore", "-rpubk", "--raw-public-key", "-rprik", "--raw-private-key");

    boolean coapsEnabled() {
        return coapsHost != null || coapsPort != null;
    }

    static Cli parse(String[] args) throws UsageException, HelpRequested {
        Cli cli = new Cli();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String name = arg;
            String value = null;
            if (arg.startsWith("--") && arg.contains("=")) {
                name = arg.substring(0, arg.indexOf('='));
                value = arg.substring(arg.indexOf('=') + 1);
            }
            switch (name) {
            case "-h":
            case "--help":
                throw new HelpRequested();
            case "-v":
            case "-vv":
            case "-vvv":
                cli.verbosity += name.length() - 1;
                continue;
            case "--verbose":
                cli.verbosity++;
                continue;
            case "-no":
            case "--disable-oscore":
                // accepted for compatibility with the demo server: this server has no OSCORE support anyway
                continue;
            default:
                break;
            }
            if (!WITH_VALUE.contains(name)) {
                throw new UsageException("Unknown option: '" + name + "'");
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new UsageException("Missing required parameter for option '" + name + "'");
                }
                value = args[++i];
            }
            switch (name) {
            case "-lh":
            case "--coap-host":
                cli.coapHost = value;
                break;
            case "-lp":
            case "--coap-port":
                cli.coapPort = port(name, value);
                break;
            case "-slh":
            case "--coaps-host":
                cli.coapsHost = value;
                break;
            case "-slp":
            case "--coaps-port":
                cli.coapsPort = port(name, value);
                break;
            case "-wh":
            case "--web-host":
                cli.webHost = value;
                break;
            case "-wp":
            case "--web-port":
                cli.webPort = port(name, value);
                break;
            case "-m":
            case "--models-folder":
                cli.modelsFolder = new File(value);
                break;
            case "--awake-time":
                cli.awakeTime = seconds(name, value);
                break;
            case "-xcert":
            case "--x509-certificate-chain":
                cli.x509Cert = new File(value);
                break;
            case "-xprik":
            case "--x509-private-key":
                cli.x509PrivateKey = new File(value);
                break;
            case "-ts":
            case "--truststore":
                cli.trustStore = new File(value);
                break;
            case "-rpubk":
            case "--raw-public-key":
                cli.rpkPublicKey = new File(value);
                break;
            case "-rprik":
            case "--raw-private-key":
                cli.rpkPrivateKey = new File(value);
                break;
            default:
                throw new UsageException("Unknown option: '" + name + "'");
            }
        }
        return cli;
    }

    private static int port(String option, String value) throws UsageException {
        try {
            int p = Integer.parseInt(value);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new UsageException("Invalid value '" + value + "' for option '" + option
                    + "': port must be a number between 0 and 65535");
        }
    }

    private static int seconds(String option, String value) throws UsageException {
        try {
            int s = Integer.parseInt(value);
            if (s < 1 || s > 86400) {
                throw new NumberFormatException();
            }
            return s;
        } catch (NumberFormatException e) {
            throw new UsageException("Invalid value '" + value + "' for option '" + option
                    + "': seconds must be a number between 1 and 86400");
        }
    }

    static void usage(PrintStream out) {
        out.println("Usage: java -jar lwm2md-test-server.jar [options]");
        out.println();
        out.println("LwM2M test server built on Eclipse Leshan's server libraries, with a REST API");
        out.println("mirroring the Leshan demo server (see tests/leshan-server/README.md).");
        out.println();
        out.println("  -h,   --help                 Show this help and exit.");
        out.println("  -v,   --verbose              More logs (-vv, -vvv: even more).");
        out.println("  -lh,  --coap-host HOST       Local CoAP address. Default: any local address.");
        out.println("  -lp,  --coap-port PORT       Local CoAP (UDP) port. Default: 5683. 0 = pick a free port.");
        out.println("  -slh, --coaps-host HOST      Local CoAP over DTLS address (enables CoAPS).");
        out.println("  -slp, --coaps-port PORT      Local CoAP over DTLS port (enables CoAPS).");
        out.println("                               CoAPS is off unless -slh or -slp is given.");
        out.println("  -wh,  --web-host HOST        HTTP address. Default: any local address.");
        out.println("  -wp,  --web-port PORT        HTTP port. Default: 8080. 0 = pick a free port.");
        out.println("  -m,   --models-folder DIR    Extra object models (OMA DDF XML), in addition to");
        out.println("                               Leshan's built-in default models.");
        out.println("  -no,  --disable-oscore       Accepted for compatibility; ignored (no OSCORE here).");
        out.println("        --awake-time SECONDS   How long a queue-mode client counts as awake after it");
        out.println("                               registered, updated or notified. Default: 93 (Leshan's).");
        out.println("  -xcert FILE                  CoAPS: the server's X.509 certificate (chain), PEM or DER.");
        out.println("  -xprik FILE                  CoAPS: its private key, PKCS#8, PEM or DER.");
        out.println("  -ts FILE                     CoAPS: certificates trusted for clients' X.509");
        out.println("                               certificates (PEM or DER). Without -xcert: PSK only.");
        out.println("  -rpubk FILE, -rprik FILE     CoAPS: the server's raw public key (PEM or DER");
        out.println("                               SubjectPublicKeyInfo) and private key (PKCS#8), for RPK.");
    }
}
