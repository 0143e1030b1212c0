namespace Shop.Core; public record Item(string Name);
