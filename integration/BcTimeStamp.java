// Bouncy Castle's view of a time-stamped S/MIME signature (t-timestamp.sh): the detached
// signature over the signed part verifies, and its unsigned id-aa-timeStampToken (RFC 3161
// appendix A) is a token over the hash of the SignerInfo's signature value, signed by a TSA
// certificate that carries the critical timeStamping usage and was issued by the given TSA root.
// A third implementation that shares no code with OpenSSL or GnuPG.
//
//   java -cp bcprov.jar:bcpkix.jar:bcutil.jar:DIR BcTimeStamp SIGNED-PART SIG.p7s TSA-ROOT.pem TOKEN-OUT
//
// Prints "signer=ADDRESS tsa=CN time=GENTIME sigsha256=HEX" (the token goes to TOKEN-OUT, and
// the hash of the signature value lets `openssl ts -verify -digest` check it too); exit 1 with
// the reason when anything does not hold; exit 2 when the signature has no time-stamp.
import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.Security;
import java.util.Arrays;
import java.util.Collection;

import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.util.encoders.Hex;

public class BcTimeStamp {
    static void fail(String why) {
        System.out.println("FAIL " + why);
        System.exit(1);
    }

    @SuppressWarnings("unchecked")
    static X509CertificateHolder first(Collection<?> c, String what) {
        if (c.isEmpty()) {
            fail(what + " is not in the structure");
        }
        return (X509CertificateHolder) c.iterator().next();
    }

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        byte[] part = Files.readAllBytes(Paths.get(args[0]));
        byte[] sig = Files.readAllBytes(Paths.get(args[1]));
        X509CertificateHolder root;
        try (PEMParser p = new PEMParser(new FileReader(args[2]))) {
            root = (X509CertificateHolder) p.readObject();
        }
        CMSSignedData sd = new CMSSignedData(new CMSProcessableByteArray(part), sig);
        SignerInformation si = sd.getSignerInfos().getSigners().iterator().next();
        X509CertificateHolder signer = first(sd.getCertificates().getMatches(si.getSID()), "the signer's certificate");
        if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer))) {
            fail("the signature does not verify");
        }
        AttributeTable unsigned = si.getUnsignedAttributes();
        Attribute a = unsigned == null ? null : unsigned.get(PKCSObjectIdentifiers.id_aa_signatureTimeStampToken);
        if (a == null) {
            System.out.println("NONE the signature verifies and has no time-stamp");
            System.exit(2);
        }
        TimeStampToken tst = new TimeStampToken(ContentInfo.getInstance(a.getAttrValues().getObjectAt(0)));
        X509CertificateHolder tsa = first(tst.getCertificates().getMatches(tst.getSID()), "the TSA certificate");
        // validate(): the token's signature, the ESS certificate identifier, and the TSA
        // certificate's critical id-kp-timeStamping (RFC 3161 §2.3).
        tst.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(tsa));
        if (!tsa.isSignatureValid(new JcaContentVerifierProviderBuilder().setProvider("BC").build(root))) {
            fail("the TSA certificate is not issued by " + args[2]);
        }
        MessageDigest md = MessageDigest.getInstance(tst.getTimeStampInfo().getMessageImprintAlgOID().getId(), "BC");
        byte[] imprint = md.digest(si.getSignature());
        if (!Arrays.equals(imprint, tst.getTimeStampInfo().getMessageImprintDigest())) {
            fail("the time-stamp's imprint is not the hash of the signature value");
        }
        Files.write(Paths.get(args[3]), tst.getEncoded());
        String email = signer.getSubject().getRDNs(BCStyle.EmailAddress).length > 0
                ? signer.getSubject().getRDNs(BCStyle.EmailAddress)[0].getFirst().getValue().toString()
                : "?";
        String cn = tsa.getSubject().getRDNs(BCStyle.CN)[0].getFirst().getValue().toString();
        System.out.println("signer=" + email + " tsa=" + cn.replace(' ', '_') + " time="
                + tst.getTimeStampInfo().getGenTime().toInstant() + " sigsha256="
                + Hex.toHexString(MessageDigest.getInstance("SHA-256").digest(si.getSignature())));
    }
}
