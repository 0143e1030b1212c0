System.Console.WriteLine("reading");
