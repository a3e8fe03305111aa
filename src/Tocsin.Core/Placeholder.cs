namespace Tocsin; internal static class Placeholder { }
