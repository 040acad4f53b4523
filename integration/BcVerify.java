// BcVerify — a third S/MIME verifier for the integration tests, sharing no code with OpenSSL or
// GnuPG: Bouncy Castle's CMSSignedData over the exact bytes of the signed part, then a PKIX path
// from the signer's certificate to the test root (intermediates from the signature itself, as a
// recipient has them). JavaMail's SMIMESigned is not used: it re-serialises the MIME part and
// fails on every multipart, even for openssl-made signatures (shared/ENVIRONMENT.md).
//
//   java -cp CLASSES:/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar \
//       BcVerify ROOT.pem LIST
//
// LIST has one job a line, so one JVM checks a whole corpus:
//   detached SIGNED-PART SIGNATURE.p7s   (multipart/signed: the part's exact bytes, the DER)
//   opaque   SIGNED-DATA.p7m             (application/pkcs7-mime signed-data, DER)
// For each line it prints "OK <signer e-mail>" or "FAIL <reason>", in order. Exit status 0 when
// every line is OK, 1 when any fails, 64 on a usage error.
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Security;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.util.Selector;
import org.bouncycastle.util.Store;

public final class BcVerify {
    private static final String EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4";

    private BcVerify() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: BcVerify ROOT.pem LIST");
            System.exit(64);
        }
        Security.addProvider(new BouncyCastleProvider());
        X509Certificate root;
        try (InputStream in = new FileInputStream(args[0])) {
            root = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        boolean allOk = true;
        try (BufferedReader list = Files.newBufferedReader(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            for (String line; (line = list.readLine()) != null;) {
                if (line.isBlank()) {
                    continue;
                }
                String result;
                try {
                    result = "OK " + verify(line.trim().split("\\s+"), root);
                } catch (Exception e) {
                    result = "FAIL " + e.getClass().getSimpleName() + ": " + e.getMessage();
                    allOk = false;
                }
                System.out.println(result);
            }
        }
        System.exit(allOk ? 0 : 1);
    }

    /** Verifies one job; returns the signer's e-mail address, throws with the reason otherwise. */
    private static String verify(String[] job, X509Certificate root) throws Exception {
        CMSSignedData signed;
        if (job.length == 3 && job[0].equals("detached")) {
            byte[] content = Files.readAllBytes(Paths.get(job[1]));
            signed = new CMSSignedData(new CMSProcessableByteArray(content), Files.readAllBytes(Paths.get(job[2])));
        } else if (job.length == 2 && job[0].equals("opaque")) {
            signed = new CMSSignedData(Files.readAllBytes(Paths.get(job[1])));
            if (signed.getSignedContent() == null) {
                throw new IllegalArgumentException("opaque signed-data without encapsulated content");
            }
        } else {
            throw new IllegalArgumentException("bad job line (want 'detached PART SIG' or 'opaque P7M')");
        }
        Collection<SignerInformation> signers = signed.getSignerInfos().getSigners();
        if (signers.size() != 1) {
            throw new IllegalStateException(signers.size() + " signers (want exactly 1)");
        }
        SignerInformation signer = signers.iterator().next();
        @SuppressWarnings("unchecked")
        Store<X509CertificateHolder> store = signed.getCertificates();
        @SuppressWarnings("unchecked")
        Collection<X509CertificateHolder> matches = store.getMatches((Selector<X509CertificateHolder>) signer.getSID());
        if (matches.isEmpty()) {
            throw new IllegalStateException("the signer's certificate is not in the signature");
        }
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter().setProvider("BC");
        X509Certificate cert = converter.getCertificate(matches.iterator().next());
        // messageDigest over exactly these bytes, and the signature over the signed attributes.
        if (!signer.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert))) {
            throw new IllegalStateException("signature does not verify over the signed part");
        }
        // RFC 5280 path to the test root; intermediates only from the signature (what a recipient has).
        List<X509Certificate> pool = new ArrayList<>();
        for (X509CertificateHolder h : store.getMatches(null)) {
            pool.add(converter.getCertificate(h));
        }
        X509CertSelector target = new X509CertSelector();
        target.setCertificate(cert);
        PKIXBuilderParameters params =
            new PKIXBuilderParameters(Collections.singleton(new TrustAnchor(root, null)), target);
        params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(pool)));
        params.setRevocationEnabled(false);  // the test PKI publishes no CRL or OCSP
        CertPathBuilder.getInstance("PKIX").build(params);
        List<String> eku = cert.getExtendedKeyUsage();
        if (eku != null && !eku.contains(EMAIL_PROTECTION)) {
            throw new IllegalStateException("the signer's certificate is not for e-mail protection");
        }
        return email(cert);
    }

    /** The first rfc822Name of the subjectAltName, else "-". */
    private static String email(X509Certificate cert) throws Exception {
        Collection<List<?>> names = cert.getSubjectAlternativeNames();
        if (names != null) {
            for (List<?> n : names) {
                if (((Integer) n.get(0)) == 1) {
                    return (String) n.get(1);
                }
            }
        }
        return "-";
    }
}
