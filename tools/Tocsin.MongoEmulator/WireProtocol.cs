using System.Buffers.Binary;
using System.Text;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace Tocsin.MongoEmulator;

/// <summary>A frame the emulator will not read (bad length, unknown opcode, malformed section or BSON): its connection is closed.</summary>
internal sealed class InvalidFrameException(string message) : Exception(message)
{
}

/// <summary>
/// One command received: from an <c>OP_MSG</c> (kind-0 body, kind-1 document sequences added to it as arrays) or a legacy
/// <c>OP_QUERY</c> on <c>&lt;db&gt;.$cmd</c> (answered with <c>OP_REPLY</c>).
/// </summary>
/// <param name="RequestId">The request's <c>requestID</c>, echoed in the reply's <c>responseTo</c>.</param>
/// <param name="Command">The command document; its first element names the command.</param>
/// <param name="Database">The <c>$db</c> field (OP_MSG) or the part of the collection name before <c>.$cmd</c> (OP_QUERY).</param>
/// <param name="Legacy">Came as OP_QUERY (answer with OP_REPLY).</param>
/// <param name="MoreToCome">OP_MSG flag <c>moreToCome</c>: the client wants no reply.</param>
internal sealed record WireRequest(int RequestId, BsonDocument Command, string Database, bool Legacy, bool MoreToCome)
{
    /// <summary>The command's name (the first element's name), or "" for an empty document.</summary>
    public string Name => Command.ElementCount == 0 ? "" : Command.GetElement(0).Name;
}

/// <summary>
/// The MongoDB wire protocol as the emulator speaks it (the "MongoDB Wire Protocol" reference): a 16-byte little-endian header
/// (<c>messageLength</c>, <c>requestID</c>, <c>responseTo</c>, <c>opCode</c>), then <c>OP_MSG</c> (2013: <c>flagBits</c>, sections,
/// optional CRC-32C checksum) or <c>OP_QUERY</c> (2004: <c>flags</c>, <c>fullCollectionName</c> cstring, <c>numberToSkip</c>,
/// <c>numberToReturn</c>, query document); replies are <c>OP_MSG</c> with one kind-0 section, or <c>OP_REPLY</c> (1) to an OP_QUERY.
/// BSON is read and written by MongoDB.Bson.
/// </summary>
internal static class WireProtocol
{
    public const int OpReply = 1;
    public const int OpQuery = 2004;
    public const int OpMsg = 2013;
    public const int HeaderLength = 16;

    /// <summary>The largest message accepted (the server's default <c>maxMessageSizeBytes</c>).</summary>
    public const int MaxMessageSizeBytes = 48_000_000;

    /// <summary>The largest BSON document accepted (<c>maxBsonObjectSize</c>).</summary>
    public const int MaxBsonObjectSize = 16 * 1024 * 1024;

    private const uint ChecksumPresent = 1u << 0;
    private const uint MoreToCome = 1u << 1;
    private const uint ExhaustAllowed = 1u << 16;

    /// <summary>The header's fields; throws <see cref="InvalidFrameException"/> for a length or opcode the emulator refuses.</summary>
    public static (int Length, int RequestId, int OpCode) ParseHeader(ReadOnlySpan<byte> header)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        int requestId = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        int opCode = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (length <= HeaderLength || length > MaxMessageSizeBytes)
        {
            throw new InvalidFrameException($"messageLength {length} is outside {HeaderLength + 1}..{MaxMessageSizeBytes}");
        }

        if (opCode is not (OpMsg or OpQuery))
        {
            throw new InvalidFrameException($"opCode {opCode} is not OP_MSG (2013) or OP_QUERY (2004)");
        }

        return (length, requestId, opCode);
    }

    /// <summary>Parses the message body (after the header). Throws <see cref="InvalidFrameException"/> when malformed.</summary>
    public static WireRequest ParseBody(int requestId, int opCode, ReadOnlySpan<byte> body) => opCode == OpMsg
        ? ParseMsg(requestId, body)
        : ParseQuery(requestId, body);

    private static WireRequest ParseMsg(int requestId, ReadOnlySpan<byte> body)
    {
        Need(body, 4);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(body);
        // Bits 0-15 are "required": a receiver must reject a message with one it does not know.
        if ((flags & 0xFFFF & ~(ChecksumPresent | MoreToCome)) != 0 || (flags & 0xFFFF0000 & ~ExhaustAllowed) != 0)
        {
            throw new InvalidFrameException($"unknown OP_MSG flagBits 0x{flags:x8}");
        }

        int end = body.Length;
        if ((flags & ChecksumPresent) != 0)
        {
            end -= 4; // The CRC-32C is not verified: the emulator is reached on loopback only.
        }

        int at = 4;
        BsonDocument? command = null;
        var sequences = new List<(string Id, BsonArray Documents)>();
        while (at < end)
        {
            byte kind = body[at++];
            switch (kind)
            {
                case 0:
                    if (command is not null)
                    {
                        throw new InvalidFrameException("more than one kind-0 section");
                    }

                    command = ReadDocument(body[..end], ref at);
                    break;
                case 1:
                    Need(body[..end], at + 4);
                    int size = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
                    if (size < 5 || at + size > end)
                    {
                        throw new InvalidFrameException($"kind-1 section size {size} does not fit the message");
                    }

                    int sectionEnd = at + size;
                    at += 4;
                    string id = ReadCString(body[..sectionEnd], ref at);
                    var documents = new BsonArray();
                    while (at < sectionEnd)
                    {
                        documents.Add(ReadDocument(body[..sectionEnd], ref at));
                    }

                    sequences.Add((id, documents));
                    break;
                default:
                    throw new InvalidFrameException($"unknown section kind {kind}");
            }
        }

        if (command is null)
        {
            throw new InvalidFrameException("no kind-0 section");
        }

        foreach (var (id, documents) in sequences)
        {
            command[id] = documents;
        }

        string database = command.TryGetValue("$db", out var db) && db.IsString ? db.AsString : "";
        return new WireRequest(requestId, command, database, Legacy: false, MoreToCome: (flags & MoreToCome) != 0);
    }

    private static WireRequest ParseQuery(int requestId, ReadOnlySpan<byte> body)
    {
        int at = 4; // flags
        Need(body, at);
        string collection = ReadCString(body, ref at);
        at += 8; // numberToSkip, numberToReturn
        Need(body, at);
        var query = ReadDocument(body, ref at);
        // Drivers may wrap the command with read preference: {$query: {...}, $readPreference: {...}}.
        if (query.TryGetValue("$query", out var inner) && inner.IsBsonDocument)
        {
            query = inner.AsBsonDocument;
        }

        int dot = collection.IndexOf('.', StringComparison.Ordinal);
        string database = dot < 0 ? collection : collection[..dot];
        string name = dot < 0 ? "" : collection[(dot + 1)..];
        if (name != "$cmd")
        {
            // Not a command: answered with an error by the caller (the legacy query opcode is gone from servers).
            query = new BsonDocument("$query-on-collection", collection);
        }

        return new WireRequest(requestId, query, database, Legacy: true, MoreToCome: false);
    }

    /// <summary>An OP_MSG reply (flagBits 0, one kind-0 section).</summary>
    public static byte[] MsgReply(int requestId, int responseTo, BsonDocument reply)
    {
        byte[] bson = reply.ToBson();
        byte[] frame = new byte[HeaderLength + 4 + 1 + bson.Length];
        WriteHeader(frame, requestId, responseTo, OpMsg);
        // flagBits stay 0; section kind 0 at offset 20.
        frame[HeaderLength + 4] = 0;
        bson.CopyTo(frame, HeaderLength + 5);
        return frame;
    }

    /// <summary>An OP_REPLY (responseFlags AwaitCapable, cursorID 0, startingFrom 0, numberReturned 1, the document).</summary>
    public static byte[] Reply(int requestId, int responseTo, BsonDocument reply)
    {
        byte[] bson = reply.ToBson();
        byte[] frame = new byte[HeaderLength + 20 + bson.Length];
        WriteHeader(frame, requestId, responseTo, OpReply);
        var span = frame.AsSpan(HeaderLength);
        BinaryPrimitives.WriteInt32LittleEndian(span, 8); // AwaitCapable, as servers set it
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], 1);
        bson.CopyTo(frame, HeaderLength + 20);
        return frame;
    }

    private static void WriteHeader(byte[] frame, int requestId, int responseTo, int opCode)
    {
        var span = frame.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, frame.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], requestId);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], responseTo);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], opCode);
    }

    private static BsonDocument ReadDocument(ReadOnlySpan<byte> data, ref int at)
    {
        Need(data, at + 4);
        int length = BinaryPrimitives.ReadInt32LittleEndian(data[at..]);
        if (length < 5 || length > MaxBsonObjectSize || at + length > data.Length)
        {
            throw new InvalidFrameException($"BSON document length {length} does not fit the message");
        }

        BsonDocument document;
        try
        {
            document = BsonSerializer.Deserialize<BsonDocument>(data.Slice(at, length).ToArray());
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException or BsonException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidFrameException($"malformed BSON: {ex.Message}");
        }

        at += length;
        return document;
    }

    private static string ReadCString(ReadOnlySpan<byte> data, ref int at)
    {
        int zero = data[at..].IndexOf((byte)0);
        if (zero < 0)
        {
            throw new InvalidFrameException("unterminated cstring");
        }

        string s = Encoding.UTF8.GetString(data.Slice(at, zero));
        at += zero + 1;
        return s;
    }

    private static void Need(ReadOnlySpan<byte> data, int length)
    {
        if (data.Length < length)
        {
            throw new InvalidFrameException("message shorter than its fields");
        }
    }
}
