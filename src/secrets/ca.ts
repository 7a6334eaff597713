// The private CA a cluster with secrets in Git keeps: made once, here, by
// bramble (node-forge builds the certificate; Node's crypto makes the key),
// so the key never exists anywhere but in the encrypted file and the
// cluster, and survives a rebuilt cluster. cert-manager's CA issuer signs
// with it.
import { generateKeyPairSync, X509Certificate, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CaPair {
  cert: string;
  key: string;
}

/** A CA certificate valid for ten years, for issuing only (no server or client use of its own). */
export function makeCa(commonName: string, now = new Date()): CaPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const pub = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const priv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  // A positive serial of 16 random bytes, as RFC 5280 asks (at most 20 octets).
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'bramble' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(priv, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** What the owner compares before trusting a CA on a device; undefined for what is no certificate. */
export function describeCa(pem: string): { subject: string; fingerprint: string; notAfter: string } | undefined {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  return { subject: x.subject.replace(/\n/g, ', '), fingerprint: x.fingerprint256, notAfter: new Date(x.validTo).toISOString().slice(0, 10) };
}
