namespace Shop.Core; public class Cart {}
