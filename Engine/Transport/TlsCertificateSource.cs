using System.Security.Cryptography.X509Certificates;

namespace Engine.Transport;

/// <summary>
/// The certificate of an https listener: a PFX file (optionally with a password), or a PEM
/// certificate with its PEM key. Renewed files (certbot, cert-manager) are picked up without a
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
    private X509Certificate2 _current;
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

    public X509Certificate2 Current
    {
        get
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
                        X509Certificate2 fresh = Load();
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
    }

    private DateTime Stamp()
    {
        DateTime certificate = File.GetLastWriteTimeUtc(_certificatePath);
        return _keyPath is null ? certificate : new DateTime(Math.Max(certificate.Ticks, File.GetLastWriteTimeUtc(_keyPath).Ticks), DateTimeKind.Utc);
    }

    private X509Certificate2 Load()
    {
        if (_keyPath is not null)
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(_certificatePath, _keyPath);
            // SslStream on Linux needs a certificate whose key is not ephemeral: round-trip through PKCS#12.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(_certificatePath, _password);
    }

    public void Dispose() => _current.Dispose();
}
