package org.lwm2md.testserver;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** Reads the X.509 material given on the command line: certificates and PKCS#8 keys, PEM or DER. */
final class Pem {

    private Pem() {
    }

    static List<X509Certificate> certificates(File f) throws IOException, GeneralSecurityException {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        // CertificateFactory reads PEM and DER, one certificate after the other
        try (ByteArrayInputStream in = new ByteArrayInputStream(Files.readAllBytes(f.toPath()))) {
            for (java.security.cert.Certificate c : cf.generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(f + ": no certificate");
        }
        return out;
    }

    /** A public key from its DER SubjectPublicKeyInfo. */
    static PublicKey publicKey(byte[] der) throws GeneralSecurityException {
        X509EncodedKeySpec spec = new X509EncodedKeySpec(der);
        for (String alg : new String[] { "EC", "RSA", "Ed25519" }) {
            try {
                return KeyFactory.getInstance(alg).generatePublic(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new GeneralSecurityException("not an EC, RSA or Ed25519 public key");
    }

    /** A public key file: PEM "PUBLIC KEY" or DER SubjectPublicKeyInfo. */
    static PublicKey publicKey(File f) throws IOException, GeneralSecurityException {
        byte[] raw = Files.readAllBytes(f.toPath());
        String text = new String(raw, StandardCharsets.US_ASCII);
        if (text.contains("-----BEGIN PUBLIC KEY-----")) {
            raw = Base64.getDecoder().decode(text.substring(text.indexOf("-----BEGIN PUBLIC KEY-----") + 26,
                    text.indexOf("-----END PUBLIC KEY-----")).replaceAll("\\s", ""));
        }
        return publicKey(raw);
    }

    static PrivateKey privateKey(File f) throws IOException, GeneralSecurityException {
        byte[] raw = Files.readAllBytes(f.toPath());
        String text = new String(raw, StandardCharsets.US_ASCII);
        byte[] der = raw;
        if (text.contains("-----BEGIN PRIVATE KEY-----")) {
            String b64 = text.substring(text.indexOf("-----BEGIN PRIVATE KEY-----") + 27,
                    text.indexOf("-----END PRIVATE KEY-----")).replaceAll("\\s", "");
            der = Base64.getDecoder().decode(b64);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String alg : new String[] { "EC", "RSA", "Ed25519" }) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(f + ": not a PKCS#8 EC, RSA or Ed25519 private key");
    }
}
