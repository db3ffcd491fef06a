using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Engine.Transport;

/// <summary>
/// The certificate of an https listener: a PFX file (optionally with a password), or a PEM
/// certificate with its PEM key; the intermediates after the leaf in the PEM file (certbot's
/// fullchain.pem) or beside it in the PFX are sent with it in every handshake, since clients trust
/// only the root. Renewed files (certbot, cert-manager) are picked up without a
/// restart: the files' write times are checked at most every <see cref="RecheckInterval"/> and a
/// changed pair is loaded for the next handshakes. A file that fails to load keeps the old one.
/// </summary>
internal sealed class TlsCertificateSource : IDisposable
{
    /// <summary>A stat per handshake would be wasted work; two seconds is quick enough for a renewal.</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    private readonly string _certificatePath;
    private readonly string? _keyPath;
    private readonly string? _password;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private Loaded _current;
    private DateTime _loadedStamp;
    private long _nextCheck;

    public TlsCertificateSource(string certificatePath, string? keyPath = null, string? password = null, TimeProvider? time = null)
    {
        _certificatePath = certificatePath;
        _keyPath = keyPath;
        _password = password;
        _time = time ?? TimeProvider.System;
        _loadedStamp = Stamp();
        _current = Load();
    }

    /// <summary>How many times a changed file was loaded after the first.</summary>
    public int Reloads { get; private set; }

    /// <summary>The leaf with its key.</summary>
    public X509Certificate2 Current => Read().Certificate;

    /// <summary>What a handshake presents: the leaf, its key and the intermediates, built once per load.</summary>
    public SslStreamCertificateContext Context => Read().Context;

    private Loaded Read()
    {
        long now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextCheck))
        {
            return _current;
        }

        lock (_lock)
        {
            _nextCheck = now + (long)(RecheckInterval.TotalSeconds * _time.TimestampFrequency);
            DateTime stamp = Stamp();
            if (stamp != _loadedStamp)
            {
                try
                {
                    Loaded fresh = Load();
                    _loadedStamp = stamp;
                    _current = fresh;   // the old one stays alive for handshakes that hold it
                    Reloads++;
                }
                catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
                {
                    // Half-written during a renewal, most likely: keep serving the old one.
                }
            }

            return _current;
        }
    }

    private DateTime Stamp()
    {
        DateTime certificate = File.GetLastWriteTimeUtc(_certificatePath);
        return _keyPath is null ? certificate : new DateTime(Math.Max(certificate.Ticks, File.GetLastWriteTimeUtc(_keyPath).Ticks), DateTimeKind.Utc);
    }

    private Loaded Load()
    {
        X509Certificate2 leaf;
        var intermediates = new X509Certificate2Collection();
        if (_keyPath is not null)
        {
            // The key goes with the first certificate of the file; the rest are its chain.
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(_certificatePath, _keyPath);
            leaf = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(_certificatePath);
            foreach (X509Certificate2 certificate in all)
            {
                if (certificate.Thumbprint == leaf.Thumbprint)
                {
                    certificate.Dispose();
                }
                else
                {
                    intermediates.Add(certificate);
                }
            }
        }
        else
        {
            X509Certificate2Collection all = X509CertificateLoader.LoadPkcs12CollectionFromFile(_certificatePath, _password);
            leaf = all.FirstOrDefault(c => c.HasPrivateKey) ?? all[0];
            foreach (X509Certificate2 certificate in all)
            {
                if (!ReferenceEquals(certificate, leaf))
                {
                    intermediates.Add(certificate);
                }
            }
        }

        // Offline: the chain is what the files hold, never fetched from the network at a handshake.
        return new Loaded(leaf, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }

    private sealed record Loaded(X509Certificate2 Certificate, SslStreamCertificateContext Context);

    public void Dispose() => _current.Certificate.Dispose();
}
