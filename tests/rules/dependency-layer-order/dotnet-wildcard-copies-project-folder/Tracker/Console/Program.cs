System.Console.WriteLine("tracking");
