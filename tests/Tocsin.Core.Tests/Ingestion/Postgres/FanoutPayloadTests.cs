using System.Text;
using Tocsin.Ingestion.Postgres;

namespace Tocsin.Core.Tests.Ingestion.Postgres;

/// <summary>The NOTIFY payloads of the cross-replica fan-out: runs of ids, chunks under PostgreSQL's 8000-byte limit.</summary>
public sealed class FanoutPayloadTests
{
    [Fact]
    public void Consecutive_ids_travel_as_runs_in_one_payload()
    {
        var payloads = FanoutPayload.Encode("0123456789abcdef", 7, "wd-1", [.. Enumerable.Range(100, 5000).Select(i => (long)i), 7, 9, 9]);

        Assert.Equal("0123456789abcdef 7 1/1 7,9,100-5099 wd-1", Assert.Single(payloads));
        var chunk = Parse(payloads[0]);
        Assert.Equal(("0123456789abcdef", 7L, 1, 1, "wd-1"), (chunk.Replica, chunk.Sequence, chunk.Index, chunk.Count, chunk.Identity));
        Assert.Equal([7L, 9L, .. Enumerable.Range(100, 5000).Select(i => (long)i)], chunk.Ids);
    }

    [Fact]
    public void Scattered_ids_are_split_into_chunks_each_under_8000_bytes_that_together_name_every_id_once()
    {
        long[] ids = [.. Enumerable.Range(0, 5000).Select(i => 9_000_000_000L + (2 * i))];
        string identity = new('w', 128);

        var payloads = FanoutPayload.Encode("r1", 42, identity, ids);

        Assert.True(payloads.Count > 1);
        Assert.All(payloads, p => Assert.True(Encoding.UTF8.GetByteCount(p) < 8000));
        var chunks = payloads.Select(Parse).ToList();
        Assert.Equal(Enumerable.Range(1, payloads.Count), chunks.Select(c => c.Index));
        Assert.All(chunks, c => Assert.Equal((payloads.Count, identity, 42L), (c.Count, c.Identity, c.Sequence)));
        Assert.Equal(ids, chunks.SelectMany(c => c.Ids));
    }

    private static FanoutChunk Parse(string payload)
    {
        Assert.True(FanoutPayload.TryParse(payload, out var chunk), payload);
        return chunk;
    }

    [Theory]
    [InlineData("")]
    [InlineData("r 1 1/1 5")]
    [InlineData("r x 1/1 5 wd")]
    [InlineData("r 1 2/1 5 wd")]
    [InlineData("r 1 0/1 5 wd")]
    [InlineData("r 1 1 5 wd")]
    [InlineData("r 1 1/1 5-3 wd")]
    [InlineData("r 1 1/1 a,5 wd")]
    [InlineData("r 1 1/1 1-99999999999 wd")]
    [InlineData("r 1 1/1 -5 wd")]
    public void Anything_else_is_not_read_as_a_chunk(string payload) => Assert.False(FanoutPayload.TryParse(payload, out _));

    [Fact]
    public void An_identity_with_spaces_is_the_rest_of_the_payload_and_an_oversized_one_is_refused()
    {
        Assert.Equal("odd id", Parse(FanoutPayload.Encode("r", 1, "odd id", [5])[0]).Identity);
        Assert.Throws<ArgumentException>(() => FanoutPayload.Encode("r", 1, new string('é', 600), [5]));
    }
}
