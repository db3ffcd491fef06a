using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Engine.Tests.Fixtures;

/// <summary>Self-signed certificates for 127.0.0.1/localhost, written as PFX or PEM pairs into a temp dir.</summary>
internal static class TestCertificates
{
    public static X509Certificate2 Create(string commonName = "engine-test")
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        // Its own trust anchor, so curl --proxy-cacert can take the certificate itself.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>
    /// A root, an intermediate it signed and a leaf for 127.0.0.1/localhost the intermediate signed, as a
    /// public CA issues them: clients trust the root only, so the server must send the intermediate.
    /// </summary>
    public static (X509Certificate2 Root, X509Certificate2 Intermediate, X509Certificate2 Leaf) CreateChain()
    {
        DateTimeOffset from = DateTimeOffset.UtcNow.AddDays(-1), to = DateTimeOffset.UtcNow.AddDays(30);
        using var rootKey = RSA.Create(2048);
        var rootRequest = new CertificateRequest("CN=engine-test root", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        X509Certificate2 root = rootRequest.CreateSelfSigned(from, to);

        using var intermediateKey = RSA.Create(2048);
        var intermediateRequest = new CertificateRequest("CN=engine-test intermediate", intermediateKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        intermediateRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(intermediateRequest.PublicKey, false));
        intermediateRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        using X509Certificate2 intermediatePublic = intermediateRequest.Create(root, from, to, [1, 2, 3, 4]);
        X509Certificate2 intermediate = intermediatePublic.CopyWithPrivateKey(intermediateKey);

        using var leafKey = RSA.Create(2048);
        var leafRequest = new CertificateRequest("CN=localhost", leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        leafRequest.CertificateExtensions.Add(san.Build());
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        leafRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(intermediate, true, false));
        using X509Certificate2 leafPublic = leafRequest.Create(intermediate, from, to, [5, 6, 7, 8]);
        return (root, intermediate, leafPublic.CopyWithPrivateKey(leafKey));
    }

    /// <summary>
    /// Writes fullchain.pem (the leaf, then <paramref name="chain"/>: what certbot and most CAs hand out)
    /// and key.pem into <paramref name="directory"/>; returns their paths.
    /// </summary>
    public static (string Certificate, string Key) WritePemChain(X509Certificate2 leaf, IEnumerable<X509Certificate2> chain, string directory)
    {
        string certificatePath = Path.Combine(directory, "fullchain.pem");
        string keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(certificatePath, leaf.ExportCertificatePem() + "\n" + string.Join("\n", chain.Select(c => c.ExportCertificatePem())) + "\n");
        using RSA key = leaf.GetRSAPrivateKey()!;
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>Writes the leaf with its key and <paramref name="chain"/> into one PKCS#12 file (a Windows-style export with the chain).</summary>
    public static string WritePfxChain(X509Certificate2 leaf, IEnumerable<X509Certificate2> chain, string directory, string? password)
    {
        string path = Path.Combine(directory, "chain.pfx");
        var collection = new X509Certificate2Collection(leaf);
        foreach (X509Certificate2 certificate in chain)
        {
            collection.Add(X509CertificateLoader.LoadCertificate(certificate.RawData));   // public part only
        }

        File.WriteAllBytes(path, collection.Export(X509ContentType.Pkcs12, password)!);
        return path;
    }

    /// <summary>Writes cert.pem and key.pem into <paramref name="directory"/>; returns their paths.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string directory)
    {
        string certificatePath = Path.Combine(directory, "cert.pem");
        string keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        using RSA key = certificate.GetRSAPrivateKey()!;
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    public static string WritePfx(X509Certificate2 certificate, string directory, string? password)
    {
        string path = Path.Combine(directory, "cert.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }
}
