Console.WriteLine("run");
