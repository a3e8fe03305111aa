namespace Tocsin.Web; internal static class Placeholder { }
