System.Console.WriteLine("import");
