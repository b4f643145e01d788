Console.WriteLine("TaskQueue client");
