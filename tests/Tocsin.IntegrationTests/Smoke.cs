namespace Tocsin.IntegrationTests; public class Smoke { [Xunit.Fact] public void Works() => Xunit.Assert.True(true); }
